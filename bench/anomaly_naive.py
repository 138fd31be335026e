"""The benchmark's baseline: the same eleven detectors as a plain Python loop over rows.

What one would write without pandas: `json.loads` line by line, dicts of counters and sets
keyed by (entity, window), then each token's windows in time order against a deque of its
earlier windows. Same rules and thresholds as `controlplane.anomaly.detection` (one scan from
empty baselines), so the benchmark can also check that both find the same alerts.
"""

import ipaddress
import json
from collections import defaultdict, deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from controlplane.anomaly.detection import DetectionConfig

DEAD = {"unauthenticated:revoked", "unauthenticated:suspended", "unauthenticated:expired"}
Key = tuple[str, str, str, int]  # detector, entity type, entity, window start (epoch seconds)


@dataclass
class Window:
    requests: int = 0
    ips: set[str] = field(default_factory=set)
    uas: set[str] = field(default_factory=set)
    bytes_out: int = 0
    tokens_out: int = 0


def read(path: Path) -> Iterator[dict[str, Any]]:
    """Records in file order; lines that are not JSON objects with a ts are skipped."""
    with path.open(encoding="utf-8") as lines:
        for line in lines:
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if isinstance(record, dict) and isinstance(record.get("ts"), str):
                record["epoch"] = datetime.fromisoformat(record["ts"]).timestamp()
                yield record


def quantile(values: list[float], q: float) -> float:
    """Linear interpolation between the closest ranks, as pandas and numpy do by default."""
    ordered = sorted(values)
    position = q * (len(ordered) - 1)
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


class Naive:
    def __init__(self, config: DetectionConfig) -> None:
        self.config = config
        self.alerts: dict[Key, int] = {}  # evidence count per alert
        self.windows: dict[str, dict[int, Window]] = defaultdict(dict)
        self.first_seen: dict[str, float] = {}
        # Refused requests per (detector, entity type, entity, window), and the distinct IPs
        # or paths among them.
        self.counts: dict[tuple[str, str, str, int], int] = defaultdict(int)
        self.distinct: dict[tuple[str, str, str, int], set[str]] = defaultdict(set)
        self.seen: dict[str, int] = defaultdict(int)  # authenticated uses per token so far
        self.networks: dict[str, set[str]] = defaultdict(set)
        self.fresh_networks: dict[tuple[str, str], int] = {}
        self.new_network_rows: dict[tuple[str, int], dict[str, int]] = defaultdict(dict)
        self.used: dict[str, int] = defaultdict(int)  # allowed requests per agent so far
        self.owner_kind: dict[str, str] = {}
        self.items: dict[str, set[str]] = defaultdict(set)
        self.fresh_items: dict[tuple[str, str], int] = {}
        self.new_item_rows: dict[tuple[str, int], int] = defaultdict(int)

    def feed(self, record: dict[str, Any]) -> None:
        window = int(record["epoch"] // self.config.window_seconds)
        token, ip, status = record.get("token_accessor"), record.get("client_ip"), record["status"]
        if token is not None and status != 401:
            self._authenticated(record, token, ip, window)
        if record.get("decision") == "allow":
            self._allowed(record, window)
        if status == 401:
            if ip is not None:
                self.counts["auth_failure_burst", "ip", ip, window] += 1
            stuffed = (
                "credential_stuffing",
                "workspace",
                record.get("workspace_id") or "*",
                window,
            )
            self.counts[stuffed] += 1
            if ip is not None:
                self.distinct[stuffed].add(ip)
            if token is not None and record.get("reason") in DEAD:
                self.counts["revoked_token_reuse", "token", token, window] += 1
        if status in (403, 404) and (token is not None or ip is not None):
            probed = ("permission_probing", "token" if token else "ip", str(token or ip), window)
            self.counts[probed] += 1
            self.distinct[probed].add(record["path"].split("?")[0])

    def _authenticated(
        self, record: dict[str, Any], token: str, ip: str | None, window: int
    ) -> None:
        self.first_seen.setdefault(token, record["epoch"])
        counted = self.windows[token].setdefault(window, Window())
        counted.requests += 1
        if ip is not None:
            counted.ips.add(ip)
        if record.get("user_agent") is not None:
            counted.uas.add(record["user_agent"])
        counted.bytes_out += record["bytes_out"]
        counted.tokens_out += record.get("tokens_out") or 0
        if ip is not None:
            network = self._network(ip)
            if network not in self.networks[token]:
                self.networks[token].add(network)
                if self.seen[token] >= self.config.warmup_events:
                    self.fresh_networks[token, network] = window
            if self.fresh_networks.get((token, network)) == window:
                per_network = self.new_network_rows[token, window]
                per_network[network] = per_network.get(network, 0) + 1
        self.seen[token] += 1

    def _allowed(self, record: dict[str, Any], window: int) -> None:
        owner = record.get("agent_id") or record.get("token_accessor")
        if owner is None:
            return
        self.owner_kind.setdefault(owner, "agent" if record.get("agent_id") else "token")
        carried = [
            f"{kind} {record[kind]}"
            for kind in ("model", "upstream")
            if record.get(kind) is not None
        ]
        supports = False
        for item in carried:
            if item not in self.items[owner]:
                self.items[owner].add(item)
                if self.used[owner] >= self.config.warmup_events:
                    self.fresh_items[owner, item] = window
            supports |= self.fresh_items.get((owner, item)) == window
        if supports:
            self.new_item_rows[owner, window] += 1
        self.used[owner] += 1

    def _network(self, ip: str) -> str:
        try:
            address = ipaddress.ip_address(ip)
        except ValueError:
            return ip
        prefix = self.config.ipv4_prefix if address.version == 4 else self.config.ipv6_prefix
        return str(ipaddress.ip_network(f"{address}/{prefix}", strict=False))

    def finish(self) -> dict[Key, int]:
        self._token_windows()
        self._new_first()
        self._failures()
        self._off_hours()
        return self.alerts

    def _alert(self, detector: str, entity_type: str, entity: str, window: int, count: int) -> None:
        self.alerts[detector, entity_type, entity, window * self.config.window_seconds] = count

    def _token_windows(self) -> None:
        config = self.config
        for token, windows in self.windows.items():
            earlier: deque[Window] = deque(maxlen=config.history_windows)
            for window in sorted(windows):
                now = windows[window]
                age = window * config.window_seconds - self.first_seen[token]
                ready = (
                    len(earlier) >= config.baseline_min_windows
                    and sum(w.requests for w in earlier) >= config.baseline_min_events
                    and age >= config.baseline_min_hours * 3600
                )
                if ready:
                    self._judge(token, window, now, earlier)
                earlier.append(now)

    def _judge(self, token: str, window: int, now: Window, earlier: deque[Window]) -> None:
        config, q = self.config, self.config.baseline_quantile

        def peak(values: list[float], floor: float = 1.0) -> float:
            return max(quantile(values, q), floor)

        requests, ips, uas = now.requests, len(now.ips), len(now.uas)
        usual_requests = peak([w.requests for w in earlier])
        usual_ips = peak([len(w.ips) for w in earlier])
        usual_uas = peak([len(w.uas) for w in earlier])
        if requests >= max(
            config.rate_spike_min_requests, config.rate_spike_ratio * usual_requests
        ):
            self._alert("rate_spike", "token", token, window, requests)
        if ips >= max(config.many_ips_min, config.many_ips_ratio * usual_ips):
            self._alert("many_ips", "token", token, window, requests)
        if uas >= max(config.many_user_agents_min, config.many_user_agents_ratio * usual_uas):
            self._alert("many_user_agents", "token", token, window, requests)
        ratio = config.exfiltration_ratio
        bytes_peak = peak([w.bytes_out for w in earlier], config.exfiltration_min_bytes / ratio)
        tokens_peak = peak([w.tokens_out for w in earlier], config.exfiltration_min_tokens / ratio)
        out = now.bytes_out >= config.exfiltration_min_bytes and now.bytes_out / bytes_peak >= ratio
        said = (
            now.tokens_out >= config.exfiltration_min_tokens
            and now.tokens_out / tokens_peak >= ratio
        )
        if out or said:
            self._alert("exfiltration", "token", token, window, requests)

    def _new_first(self) -> None:
        for (token, window), per_network in self.new_network_rows.items():
            self._alert("new_network", "token", token, window, sum(per_network.values()))
        for (owner, window), rows in self.new_item_rows.items():
            self._alert("new_model", self.owner_kind[owner], owner, window, rows)

    def _failures(self) -> None:
        config = self.config
        for key, count in self.counts.items():
            detector, entity_type, entity, window = key
            distinct = len(self.distinct.get(key, ()))
            if detector == "auth_failure_burst":
                fired = count >= config.auth_failure_burst_min
            elif detector == "credential_stuffing":
                fired = distinct >= config.credential_stuffing_min_ips
            elif detector == "permission_probing":
                fired = (
                    count >= config.probing_min_events and distinct >= config.probing_min_targets
                )
            else:  # revoked_token_reuse: any use
                fired = True
            if fired:
                self._alert(detector, entity_type, entity, window, count)

    def _off_hours(self) -> None:
        config = self.config
        for token, windows in self.windows.items():
            hours = [0] * 48
            total = 0
            first_day = int(self.first_seen[token] // 86_400)
            for window in sorted(windows):
                start = window * config.window_seconds
                day = start // 86_400
                hour = (start % 86_400) // 3600 + (24 if (day + 3) % 7 >= 5 else 0)
                between = range(first_day + 1, day)
                same_kind = sum(((d + 3) % 7 >= 5) == (hour >= 24) for d in between)
                requests = windows[window].requests
                silent = hours[hour] < config.off_hours_silent_share * total
                active = sum(count >= config.off_hours_silent_share * total for count in hours)
                if (
                    silent
                    and requests >= config.off_hours_min_requests
                    and total >= config.off_hours_min_events
                    and same_kind >= config.off_hours_min_days
                    and active <= config.off_hours_max_active_hours
                ):
                    self._alert("off_hours", "token", token, window, requests)
                hours[hour] += requests
                total += requests


def detect(records: list[dict[str, Any]], config: DetectionConfig) -> dict[Key, int]:
    """{alert key: evidence count} for `records` (from `read`), in time order."""
    naive = Naive(config)
    for record in sorted(records, key=lambda record: record["epoch"]):
        naive.feed(record)
    return naive.finish()


def key_of(detector: str, entity_type: str, entity: str, start: datetime) -> Key:
    return (detector, entity_type, entity, int(start.astimezone(UTC).timestamp()))

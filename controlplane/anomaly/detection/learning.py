"""Folding one scan's closed windows into the baselines, and carrying its open windows.

A window is closed once it is older than the newest `open_windows` windows (counted from the
newest event seen); its events are learned exactly once, when it closes. Events that arrive
after their window closed (a late flush, a replayed spool) are judged in a window of their own,
against the state as it is, and learned at once: their window's history entry grows by their
counts (distinct IPs and user agents add up, an upper bound, since the earlier ones are no
longer known).
"""

import numpy as np
import pandas as pd

from controlplane.access_log.records import FIELD_NAMES
from controlplane.anomaly.detection.baselines import HOURS, TABLES, Baselines
from controlplane.anomaly.detection.config import DetectionConfig
from controlplane.anomaly.detection.detectors.first_seen import model_items
from controlplane.anomaly.detection.detectors.token_windows import METRICS, TokenWindows
from controlplane.anomaly.detection.events import (
    DAY_US,
    HOURS_OF_WEEK,
    MICROS,
    Events,
    hour_of_week,
)
from controlplane.anomaly.detection.frame import POSITION_COLUMNS
from controlplane.anomaly.detection.grouping import Coded, Flags, Groups, Ints


def learn(state: Baselines, events: Events, windows: TokenWindows) -> Baselines:
    config = events.config
    newest = int(events.micros[events.is_new].max())
    watermark = newest if state.watermark_us is None else max(state.watermark_us, newest)
    first_open = watermark // (config.window_seconds * MICROS) - (config.open_windows - 1)
    closed = events.window < first_open
    token = events.coded("token_accessor")
    authenticated = closed & events.authenticated
    allowed = closed & (events.frame["decision"] == "allow").to_numpy() & (events.owner.codes >= 0)
    tables = {
        "tokens": _tokens(state.tables["tokens"], events, authenticated),
        "history": _history(state.tables["history"], windows, first_open, config),
        "networks": _known(
            "networks",
            state.tables["networks"],
            events,
            authenticated,
            token,
            [(events.network, events.network.codes)],
            config,
        ),
        "agents": _agents(state.tables["agents"], events, allowed),
        "models": _known(
            "models",
            state.tables["models"],
            events,
            allowed,
            events.owner,
            model_items(events),
            config,
        ),
    }
    tables = _forget_idle(tables, watermark - config.idle_days * DAY_US)
    carried = events.frame[~closed].tail(config.max_open_events)
    position = [name for name in POSITION_COLUMNS if name in carried]
    return Baselines(
        window_seconds=config.window_seconds,
        ipv4_prefix=config.ipv4_prefix,
        ipv6_prefix=config.ipv6_prefix,
        watermark_us=watermark,
        tables=tables,
        open_events=carried[[*FIELD_NAMES, *position]].reset_index(drop=True),
    )


def _merge(
    name: str, stored: pd.DataFrame, learned: pd.DataFrame, keys: list[str], how: dict[str, str]
) -> pd.DataFrame:
    """Stored and newly learned rows as one table of `name`, one row per key."""
    merged = pd.concat([stored, learned], ignore_index=True)
    combined = merged.groupby(keys, as_index=False, sort=False).agg(how)
    return combined.reindex(columns=list(TABLES[name]))


def _tokens(stored: pd.DataFrame, events: Events, rows_mask: Flags) -> pd.DataFrame:
    rows = np.flatnonzero(rows_mask)
    if not len(rows):
        return stored
    token = events.coded("token_accessor")
    stamps = events.micros[rows]
    groups = Groups(token.codes[rows])
    hours = np.zeros((groups.count, HOURS_OF_WEEK), dtype=np.int64)
    np.add.at(hours, (groups.codes, hour_of_week(stamps)), 1)
    first_seen = -groups.max(-stamps)
    learned = pd.DataFrame(
        {
            "token": token.text(groups.first(token.codes[rows])),
            "events": groups.size(),
            "first_seen": first_seen,
            "last_seen": groups.max(stamps),
            **dict(zip(HOURS, hours.T, strict=True)),
        }
    )
    how = {"events": "sum", "first_seen": "min", "last_seen": "max"}
    return _merge("tokens", stored, learned, ["token"], {**how, **dict.fromkeys(HOURS, "sum")})


def _history(
    stored: pd.DataFrame, windows: TokenWindows, first_open: int, config: DetectionConfig
) -> pd.DataFrame:
    closed = windows.stats.loc[windows.stats["window"] < first_open, ["token", "window", *METRICS]]
    merged = _merge("history", stored, closed, ["token", "window"], dict.fromkeys(METRICS, "sum"))
    order = np.lexsort((merged["window"].to_numpy(), merged["token"].to_numpy()))
    newest = merged.iloc[order].groupby("token", sort=False).tail(config.history_windows)
    return newest.reset_index(drop=True)


def _known(
    table: str,
    stored: pd.DataFrame,
    events: Events,
    rows_mask: Flags,
    entity: Coded,
    items: list[tuple[Coded, Ints]],
    config: DetectionConfig,
) -> pd.DataFrame:
    """Known items per entity, with when each was last seen; the newest `max_known_items`.
    `items` pairs each vocabulary with the item code of every row."""
    rows = np.flatnonzero(rows_mask & (entity.codes >= 0))
    learned = []
    for vocabulary, codes in items:
        present = rows[codes[rows] >= 0]
        groups = Groups(entity.codes[present], codes[present])
        learned.append(
            pd.DataFrame(
                {
                    "entity": entity.text(groups.first(entity.codes[present])),
                    "item": vocabulary.text(groups.first(codes[present])),
                    "last_seen": groups.max(events.micros[present]),
                }
            )
        )
    merged = _merge(table, stored, pd.concat(learned), ["entity", "item"], {"last_seen": "max"})
    newest = merged.sort_values(["entity", "last_seen", "item"], ascending=[True, False, True])
    kept = newest.groupby("entity", sort=False).head(config.max_known_items)
    return kept.sort_values(["entity", "item"]).reset_index(drop=True)


def _agents(stored: pd.DataFrame, events: Events, rows_mask: Flags) -> pd.DataFrame:
    rows = np.flatnonzero(rows_mask)
    owner = events.owner
    groups = Groups(owner.codes[rows])
    learned = pd.DataFrame(
        {
            "entity": owner.text(groups.first(owner.codes[rows])),
            "events": groups.size(),
            "last_seen": groups.max(events.micros[rows]),
        }
    )
    return _merge("agents", stored, learned, ["entity"], {"events": "sum", "last_seen": "max"})


def _forget_idle(tables: dict[str, pd.DataFrame], cutoff: int) -> dict[str, pd.DataFrame]:
    """Drop every token and agent not seen since `cutoff`, and all it was known for."""
    tokens = tables["tokens"]
    active_tokens = tokens.loc[tokens["last_seen"] >= cutoff, "token"]
    agents = tables["agents"]
    active_agents = agents.loc[agents["last_seen"] >= cutoff, "entity"]
    return {
        "tokens": _keep(tokens, "token", active_tokens),
        "history": _keep(tables["history"], "token", active_tokens),
        "networks": _keep(tables["networks"], "entity", active_tokens),
        "agents": _keep(agents, "entity", active_agents),
        "models": _keep(tables["models"], "entity", active_agents),
    }


def _keep(table: pd.DataFrame, column: str, wanted: "pd.Series[str]") -> pd.DataFrame:
    return table[table[column].isin(wanted)].reset_index(drop=True)

"""First-seen detectors: new_network (a token used from a network it never used) and new_model
(an agent calling a model or upstream it never called).

Both are causal: an item is new at its first occurrence when it was not known for the entity
before (the stored known items, then this scan's earlier rows) and the entity had at least
`warmup_events` events before that occurrence, so a token's first days teach rather than alert.
An alert covers the window of the first occurrence, with every row of the new item(s) in it.
"""

import numpy as np
import pandas as pd

from controlplane.anomaly.detection.alerts import EntityType, Severity
from controlplane.anomaly.detection.detectors.findings import (
    Findings,
    from_groups,
    nothing,
    severities,
    window_text,
)
from controlplane.anomaly.detection.events import Events
from controlplane.anomaly.detection.grouping import Coded, Groups, Ints, Positions, combine

SHOWN_ITEMS = 3


def new_items(
    rows: Positions,
    entity: Coded,
    vocabulary: Coded,
    items: list[Ints],
    prior: Ints,
    known: pd.DataFrame,
    events: Events,
) -> pd.DataFrame:
    """Rows of items new to their entity, in the window of the item's first occurrence.

    `prior` (events the entity had before the row) and each array of item codes (into
    `vocabulary`) in `items` are aligned with `rows`; a row may carry several items (a model
    and an upstream). `known` is the stored table of known (entity, item) texts.
    Returns columns row, entity, item (codes), window and at (prior at the first occurrence).
    """
    sizes = (len(entity.values), len(vocabulary.values))
    copies = len(items)
    row = np.tile(rows, copies)
    item = np.concatenate(items)
    present = item >= 0
    row, item = row[present], item[present]
    owner = entity.codes[row]
    pair, uniques = pd.factorize(combine(owner, item, sizes=sizes))
    # Where each (entity, item) first occurs, and what its entity had seen by then.
    first = np.full(len(uniques), np.iinfo(np.int64).max, dtype=np.int64)
    np.minimum.at(first, pair, row)
    before = np.zeros(len(events.window), dtype=np.int64)
    before[rows] = prior
    stored_entity, stored_item = entity.lookup(known["entity"]), vocabulary.lookup(known["item"])
    both = (stored_entity >= 0) & (stored_item >= 0)
    known_pairs = combine(stored_entity[both], stored_item[both], sizes=sizes)
    fresh = ~np.isin(uniques, known_pairs) & (before[first] >= events.config.warmup_events)
    first_window = events.window[first]
    window = events.window[row]
    support = fresh[pair] & (window == first_window[pair])
    found = pd.DataFrame(
        {
            "row": row[support],
            "entity": owner[support],
            "item": item[support],
            "window": window[support],
            "at": before[first][pair[support]],
        }
    )
    return found.sort_values("row", kind="stable", ignore_index=True)


def _prior(entity: Coded, codes: Ints, stored: pd.DataFrame) -> Ints:
    """How many events each row's entity had before it: the stored count plus this scan's."""
    before = np.zeros(len(entity.values) + 1, dtype=np.int64)  # last: no entity
    found = entity.lookup(stored["entity"])
    before[found[found >= 0]] = stored["events"].to_numpy(dtype=np.int64)[found >= 0]
    return before[codes] + Groups(codes).cumcount()


def new_network(events: Events, tables: dict[str, pd.DataFrame], spikes: Findings) -> Findings:
    authenticated = np.flatnonzero(events.authenticated)
    token, network = events.coded("token_accessor"), events.network
    counts = tables["tokens"].rename(columns={"token": "entity"})
    prior = _prior(token, token.codes[authenticated], counts)
    has_ip = network.codes[authenticated] >= 0
    rows = authenticated[has_ip]
    found = new_items(
        rows, token, network, [network.codes[rows]], prior[has_ip], tables["networks"], events
    )
    if found.empty:
        return nothing("new_network")
    config = events.config
    groups = Groups(found["entity"].to_numpy(), found["window"].to_numpy())
    per_network = found.groupby([groups.codes, found["item"].to_numpy()]).size()
    fired = pd.DataFrame(
        {
            "entity": token.text(groups.first(found["entity"].to_numpy())),
            "window": groups.first(found["window"].to_numpy()),
            "at": groups.first(found["at"].to_numpy()),
            "score": groups.size().astype(np.float64),
            "largest": per_network.groupby(level=0).max().to_numpy(),
            "networks": _names(found["item"], groups, network),
        }
    )
    spiking = pd.MultiIndex.from_frame(spikes.alerts[["entity", "window"]].astype(object))
    spike = pd.MultiIndex.from_frame(fired[["entity", "window"]].astype(object)).isin(spiking)
    burst = (fired["largest"].to_numpy() >= config.new_network_burst_events) | spike
    fired["severity"] = severities(Severity.HIGH.value, [(burst, Severity.CRITICAL.value)])
    fired["entity_type"] = EntityType.TOKEN.value
    fired["token_accessor"] = fired["entity"]
    span = window_text(config.window_seconds)
    fired["explanation"] = [
        f"{token_text} was used from {_listed(networks, 'network')} it had never used before "
        f"({score:,.0f} requests in {span}), after {at:,} requests from known networks"
        + ("; a burst from a new network is how a stolen token looks." if stolen else ".")
        for token_text, networks, score, at, stolen in zip(
            fired["entity"], fired["networks"], fired["score"], fired["at"], burst, strict=True
        )
    ]
    return from_groups("new_network", fired, found["row"].to_numpy(), groups.codes)


def new_model(events: Events, tables: dict[str, pd.DataFrame]) -> Findings:
    owner = events.owner
    allowed = (events.frame["decision"] == "allow").to_numpy() & (owner.codes >= 0)
    rows = np.flatnonzero(allowed)
    (items, model_codes), (_, upstream_codes) = model_items(events)
    prior = _prior(owner, owner.codes[rows], tables["agents"])
    found = new_items(
        rows,
        owner,
        items,
        [model_codes[rows], upstream_codes[rows]],
        prior,
        tables["models"],
        events,
    )
    if found.empty:
        return nothing("new_model")
    # A row with a new model and a new upstream supports its alert once.
    groups = Groups(found["entity"].to_numpy(), found["window"].to_numpy())
    unique_rows = ~pd.Series(combine(groups.codes, found["row"].to_numpy())).duplicated()
    fired = pd.DataFrame(
        {
            "entity": owner.text(groups.first(found["entity"].to_numpy())),
            "window": groups.first(found["window"].to_numpy()),
            "at": groups.first(found["at"].to_numpy()),
            "score": np.bincount(
                groups.codes[unique_rows.to_numpy()], minlength=groups.count
            ).astype(np.float64),
            "items": _names(found["item"], groups, items),
        }
    )
    frame = events.frame
    first_rows = groups.first(found["row"].to_numpy())
    is_agent = frame["agent_id"].iloc[first_rows].notna().to_numpy()
    fired["entity_type"] = np.where(is_agent, EntityType.AGENT.value, EntityType.TOKEN.value)
    fired["token_accessor"] = _single_token(events, found["row"].to_numpy(), groups)
    fired["severity"] = Severity.LOW.value
    fired["explanation"] = [
        f"{entity} called {_shown(names)} for the first time ({score:,.0f} requests), "
        f"after {at:,} requests to its usual models."
        for entity, names, score, at in zip(
            fired["entity"], fired["items"], fired["score"], fired["at"], strict=True
        )
    ]
    keep = unique_rows.to_numpy()
    return from_groups("new_model", fired, found["row"].to_numpy()[keep], groups.codes[keep])


def model_items(events: Events) -> list[tuple[Coded, Ints]]:
    """Models and upstreams as one vocabulary of items ("model X", then "upstream Y"), with
    each row's model item and upstream item in it (-1 for none)."""
    model, upstream = events.coded("model"), events.coded("upstream")
    names = [f"model {name}" for name in model.values]
    names += [f"upstream {name}" for name in upstream.values]
    vocabulary = Coded(np.zeros(0, dtype=np.int64), np.array(names, dtype=object))
    shifted = np.where(upstream.codes >= 0, upstream.codes + len(model.values), -1)
    return [(vocabulary, model.codes), (vocabulary, shifted)]


def _single_token(events: Events, rows: Positions, groups: Groups) -> list[str | None]:
    """The token behind each alert when a single token made all its requests, else None."""
    codes = events.coded("token_accessor").codes[rows]
    spread = groups.nunique(codes)
    missing = np.bincount(groups.codes[codes < 0], minlength=groups.count)
    single = (spread == 1) & (missing == 0)
    first = events.coded("token_accessor").text(groups.first(codes))
    return [token if one else None for token, one in zip(first, single, strict=True)]


def _names(items: "pd.Series[int]", groups: Groups, coded: Coded) -> list[list[str]]:
    """Each group's distinct items, as text, in order of first appearance."""
    codes = np.asarray(items, dtype=np.int64)
    pairs = pd.unique(combine(groups.codes, codes))  # in order of first appearance
    width = int(codes.max(initial=0)) + 2
    names: list[list[str]] = [[] for _ in range(groups.count)]
    for group, item in zip(
        (pairs // width - 1).tolist(), (pairs % width - 1).tolist(), strict=True
    ):
        names[group].append(str(coded.values[item]))
    return names


def _shown(items: list[str]) -> str:
    return ", ".join(items[:SHOWN_ITEMS]) + (" and more" if len(items) > SHOWN_ITEMS else "")


def _listed(items: list[str], noun: str) -> str:
    return f"{len(items)} {noun}{'s' if len(items) > 1 else ''} ({_shown(items)})"

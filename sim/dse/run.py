"""Execution of a sweep: points -> Dask -> the Parquet store.

    from sim import sweep
    df = sweep("examples/sweep-bitserial.yaml", "out/sweep", workers=2)

- `workers=0` (default for the API): in this process, no Dask.
- `workers=N`: a `dask.distributed.LocalCluster` of N single-threaded worker processes
  bound to 127.0.0.1 (no dashboard); a sweep of at most TINY_POINTS points runs on an
  in-process LocalCluster (threads) instead, which starts in milliseconds.
- `scheduler="tcp://host:port"`: an existing Dask cluster (its workers must be able to
  import `sim`).

Points whose rows are all stored are skipped; each finished batch is written as its own
part file (see store.py), so a killed sweep resumes with nothing lost or duplicated. A
point that raises is recorded with its error (column `error`) and the sweep goes on.
Progress (tqdm: count, rate, ETA) goes to stderr when it is a terminal.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import pandas as pd

from common.errors import InputError
from common.files import check_output, write_atomic
from sim.dse.points import Point, build_points
from sim.dse.spec import Spec, apply_overrides, load_spec, parse_spec
from sim.dse.store import Store

TINY_POINTS = 16  # up to this many points to compute: in-process cluster (threads)
# --workers: a LocalCluster lives on one host; 256 processes is more than the hardware
# threads of the largest two-socket servers (2 x 128 cores), so more is a typo. A larger
# cluster is reached through --scheduler.
MAX_WORKERS = 256
# --scheduler: seconds to resolve the host, to open a TCP connection, and for Dask's
# handshake. A reachable scheduler on a LAN answers within milliseconds; a bad address
# must fail fast rather than hang (issue 12).
RESOLVE_TIMEOUT_S = 3.0
CONNECT_TIMEOUT_S = 3.0
CLIENT_TIMEOUT_S = 5
SCHEDULER_SCHEMES = ("tcp", "tls")


def check_scheduler(address: str) -> tuple[str, int]:
    """(host, port) of a `tcp://HOST:PORT` (or tls://) scheduler address that resolves
    and accepts a TCP connection, else InputError('--scheduler', ...) within a few
    seconds (the name is resolved in a helper thread, so a dead DNS server cannot stall)."""
    import socket
    import threading

    from common.inputs import quote

    shown = quote(address)
    form = "an address tcp://HOST:PORT (or tls://HOST:PORT) of a running Dask scheduler"
    from distributed.comm.addressing import parse_address, parse_host_port

    try:
        scheme, loc = parse_address(address, strict=True)
        host, port = parse_host_port(loc)
    except (ValueError, TypeError):
        raise InputError("--scheduler", shown, form) from None
    if scheme not in SCHEDULER_SCHEMES or not host or not 0 < int(port) < 65536:
        raise InputError("--scheduler", shown, form)
    found: list = []

    def resolve() -> None:
        try:
            found.append(socket.getaddrinfo(host, port, type=socket.SOCK_STREAM))
        except (OSError, UnicodeError) as e:
            found.append(e)

    t = threading.Thread(target=resolve, daemon=True)
    t.start()
    t.join(RESOLVE_TIMEOUT_S)
    if not found or isinstance(found[0], BaseException):
        why = "no answer" if not found else getattr(found[0], "strerror", None) or found[0]
        raise InputError("--scheduler", shown, f"a host name that resolves ({quote(why)})")
    family, kind, proto, _, sockaddr = found[0][0]
    try:
        with socket.socket(family, kind, proto) as s:
            s.settimeout(CONNECT_TIMEOUT_S)
            s.connect(sockaddr)
    except OSError as e:
        why = getattr(e, "strerror", None) or "timed out"
        raise InputError("--scheduler", shown, f"a running Dask scheduler ({why})") from None
    who = _identity(address, CLIENT_TIMEOUT_S)
    if not (isinstance(who, dict) and who.get("type") == "Scheduler"):
        why = quote(who if isinstance(who, str) else "it answered as something else")
        raise InputError("--scheduler", shown, f"a Dask scheduler at this address ({why})")
    return host, int(port)


def _identity(address: str, timeout_s: float):
    """The scheduler's answer to Dask's `identity` request (a dict with type 'Scheduler'),
    or a short reason why none came within `timeout_s`: a port that accepts connections
    but never speaks Dask (Client(...) then waited forever, its timeout covering only the
    connection) or answers something else (an HTTP server, ...). Runs in its own thread
    and event loop, so callers inside a running loop work too."""
    import asyncio
    import threading

    from distributed.comm import connect
    from distributed.security import Security

    # the client's TLS settings from the Dask config, as Client() would use them
    args = Security().get_connection_args("client")

    async def ask():
        comm = await connect(address, timeout=timeout_s, **args)
        try:
            await comm.write({"op": "identity"})
            return await comm.read()
        finally:
            comm.abort()

    out: list = []

    def run() -> None:
        try:
            out.append(asyncio.run(asyncio.wait_for(ask(), timeout_s)))
        except Exception as e:  # noqa: BLE001 - any failure means: not a scheduler
            why = "no Dask answer" if isinstance(e, TimeoutError) else f"{type(e).__name__}: {e}"
            out.append(why)

    t = threading.Thread(target=run, daemon=True)
    t.start()
    t.join(timeout_s + 1.0)
    return out[0] if out else "no Dask answer"


def resolve_spec(spec: Spec | str | Path | dict, overrides: dict | None = None) -> tuple:
    """(Spec, source name) from a Spec, a YAML path or a dict."""
    if isinstance(spec, Spec):
        if overrides:
            raw = apply_overrides(spec.model_dump(mode="json"), overrides, "spec")
            return parse_spec(raw, "spec"), "spec"
        return spec, "spec"
    if isinstance(spec, dict):
        return parse_spec(apply_overrides(spec, overrides or {}, "spec"), "spec"), "spec"
    return load_spec(spec, overrides), str(spec)


@contextmanager
def executor(workers: int = 0, scheduler: str | None = None, n_points: int = 0):
    """A function map(batches) -> iterator of rows lists, as each batch completes."""
    from sim.dse.evaluate import evaluate_points

    if scheduler is None and workers <= 0:

        def run_local(batches: Sequence[list[Point]]) -> Iterator[list[dict]]:
            for b in batches:
                yield evaluate_points(b)

        yield run_local
        return

    from dask.distributed import Client, LocalCluster, as_completed

    cluster = None
    try:
        if scheduler is not None:
            check_scheduler(scheduler)
            try:
                client = Client(scheduler, timeout=f"{CLIENT_TIMEOUT_S}s")
            except (OSError, ValueError, TypeError) as e:
                from common.inputs import quote

                why = f"a reachable Dask scheduler ({quote(str(e))})"
                raise InputError("--scheduler", quote(scheduler), why) from None
        else:
            tiny = n_points <= TINY_POINTS
            workers = min(workers, max(1, n_points))  # never more processes than points
            # tiny: one in-process worker over the inproc:// transport (no socket at all);
            # otherwise worker processes talking TCP on the loopback interface only
            # (the scheduler's HTTP health endpoint also binds to loopback, on a free port)
            net = {} if tiny else {"host": "127.0.0.1", "protocol": "tcp"}
            net["scheduler_kwargs"] = {"dashboard_address": "127.0.0.1:0"}
            cluster = LocalCluster(
                n_workers=1 if tiny else workers,
                threads_per_worker=1,
                processes=not tiny,
                dashboard_address=None,
                silence_logs=logging.ERROR,
                **net,
            )
            client = Client(cluster)

        def run_dask(batches: Sequence[list[Point]]) -> Iterator[list[dict]]:
            futs = [client.submit(evaluate_points, b, pure=False) for b in batches]
            for fut in as_completed(futs):
                yield fut.result()
                fut.release()

        run_dask.client = client  # type: ignore[attr-defined]  (tests check the addresses)
        try:
            yield run_dask
        finally:
            client.close()
    finally:
        if cluster is not None:
            cluster.close()


def check_workers(workers: int) -> None:
    if isinstance(workers, bool) or not isinstance(workers, int) or not 0 <= workers <= MAX_WORKERS:
        raise InputError("--workers", str(workers)[:80], f"an integer in [0, {MAX_WORKERS}]")


def _batches(points: list[Point], size: int) -> list[list[Point]]:
    pts = sorted(points, key=lambda p: p.arch_digest)  # same arch -> same Coster memo
    return [pts[i : i + size] for i in range(0, len(pts), size)]


def add_perplexity(spec: Spec, points: Sequence[Point]) -> dict[tuple, float]:
    """(wq, aq, kvq) -> perplexity from the `sim accuracy` cache, when formats vary."""
    if not spec.formats_vary:
        return {}
    from sim.dse.accuracy import cached_perplexity

    combos = [(p.wq, p.aq, p.kvq) for p in points]
    return cached_perplexity(spec.accuracy.model, combos, compute=spec.accuracy.compute)


def finish_rows(rows: list[dict], spec: Spec, ppl: dict[tuple, float]) -> list[dict]:
    for r in rows:
        r["perplexity"] = ppl.get((r["wq"], r["aq"], r["kvq"]), float("nan"))
        r["perplexity_model"] = spec.accuracy.model if spec.formats_vary else None
    return rows


def evaluate_into_store(
    points: Sequence[Point],
    spec: Spec,
    store: Store,
    run,
    progress: bool | None = None,
    desc: str = "sweep",
) -> dict:
    """Compute the points not yet stored; write each finished batch as a part file."""
    have = store.keys()
    points = list({p.key: p for p in points}.values())  # a point asked twice runs once
    todo = [p for p in points if not all(k in have for k in p.row_keys())]
    ppl = add_perplexity(spec, todo)
    stats = {"points": len(points), "computed": 0, "skipped": len(points) - len(todo)}
    stats["errors"] = 0
    if not todo:
        return stats
    from tqdm import tqdm

    from common.progress import enabled as progress_enabled

    bar = tqdm(
        total=len(todo),
        unit="cfg",
        desc=desc,
        file=sys.stderr,
        disable=not (progress_enabled() if progress is None else progress),
        smoothing=0.1,
    )
    try:
        for rows in run(_batches(todo, spec.batch_points)):
            store.write(finish_rows(rows, spec, ppl))
            n = len({r["point_key"] for r in rows})
            stats["computed"] += n
            stats["errors"] += len({r["point_key"] for r in rows if r["error"]})
            bar.update(n)
    finally:
        bar.close()
    return stats


def sweep(
    spec: Spec | str | Path | dict,
    out: str | Path,
    workers: int = 0,
    scheduler: str | None = None,
    progress: bool | None = None,
    overrides: dict | None = None,
) -> pd.DataFrame:
    """Run (or resume) a sweep; returns its rows (all phases). `df.attrs['sweep']` holds
    the counts: points, computed, skipped, errors, seconds."""
    t0 = time.perf_counter()
    check_workers(workers)
    spec, source = resolve_spec(spec, overrides)
    points = build_points(spec, source)  # every point validated before anything runs
    store = Store(out)
    check_output(Path(out) / "_spec.yaml", "file", store.source)  # before any work
    have = store.keys()
    n_todo = sum(not all(k in have for k in p.row_keys()) for p in points)
    if not n_todo:  # nothing to compute: start no cluster
        workers, scheduler = 0, None
    with executor(workers, scheduler, n_todo) as run:
        # written once the scheduler answered: a refused run leaves --out as it was
        write_atomic(Path(out) / "_spec.yaml", _spec_yaml(spec), store.source)
        stats = evaluate_into_store(points, spec, store, run, progress)
    df = store.read()
    want = {k for p in points for k in p.row_keys()}
    df = df[df["key"].isin(want)].reset_index(drop=True)
    stats["seconds"] = round(time.perf_counter() - t0, 3)
    df.attrs["sweep"] = stats
    return df


def _spec_yaml(spec: Spec) -> str:
    import yaml

    return yaml.safe_dump(spec.model_dump(mode="json"), sort_keys=False)

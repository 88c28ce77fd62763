"""Where `doctor -A -o json --snapshot PATH` spends its time, phase by phase (run as a child, prints JSON).

The same calls as `pipeline._emit`, timed one by one: load (read and parse the snapshot), index, link (the
chains, launcher evidence parsed), explain (pending claims' allocation), checks, report (the output
dict), render (JSON text). Prints (and with `--out FILE` writes) `{"import": s, ...}`.
"""

from __future__ import annotations

import json
import sys
import time


def main(path: str, out_path: str | None = None) -> None:
    t0 = time.perf_counter()
    from kubectl_vmgpu import allocation, chain, checks, options, pipeline, report
    from kubectl_vmgpu.index import Index
    from kubectl_vmgpu.render import json as rjson

    out = {"import": time.perf_counter() - t0}

    def step(name: str, fn, *args):  # type: ignore[no-untyped-def]
        start = time.perf_counter()
        value = fn(*args)
        out[name] = time.perf_counter() - start
        return value

    kw = {"name": None, "namespace": None, "all_namespaces": True, "snapshots": (path,), "demo": False,
          "kubeconfig": None, "kube_context": None, "request_timeout": "30s", "no_exec": False}
    scope = options.scope(kw)
    inv, _, _ = step("load", pipeline._load, scope)
    idx = step("index", Index, inv)
    views = step("link", chain.link, idx, None, None)
    explanations = step("explain", allocation.explain_views, idx, views, False)
    ctx = checks.Context(idx=idx, exec_disabled=False, explanations=explanations)
    found = step("checks", checks.run, ctx, views, frozenset())
    version = idx.kubevirt.label if idx.kubevirt.version else None
    rep = step(
        "report", report.assemble, "Doctor", inv.origin, views, found.cluster, found.by_vmi, found.silenced,
        explanations, version,
    )
    data = step("dict", rjson.report, rep)
    text = step("render", rjson.to_json, data)
    out["output MB"] = len(text) / 1e6
    if out_path:
        with open(out_path, "w") as f:
            json.dump(out, f)
    print(json.dumps(out))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[3] if sys.argv[2:3] == ["--out"] else None)

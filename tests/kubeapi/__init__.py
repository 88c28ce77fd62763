"""A loopback Kubernetes API server for tests, serving a snapshot folder read-only.

    from tests.kubeapi import KubeAPIServer, Fault

    with KubeAPIServer.from_snapshot("tests/kubeapi/testdata/basic") as srv:
        kubeconfig = srv.write_kubeconfig(tmp_path / "kubeconfig")
        ...                                     # point kubectl or the python client at it
        srv.faults["resourceslices"] = Fault(status=403)
        assert all(r.method == "GET" for r in srv.requests)

See `server.KubeAPIServer` for what is served and how.
"""

from .faults import Fault, RecordedRequest
from .rbac import Authorizer
from .server import KubeAPIServer

__all__ = ["Authorizer", "Fault", "KubeAPIServer", "RecordedRequest"]

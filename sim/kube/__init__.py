"""A Kubernetes API server simulator that `kubectl` accepts, with controllers that move objects.

Python API::

    from mlops_tui.sim.kube import SimKubeCluster, write_kubeconfig

    c = SimKubeCluster.start(name="sim-a", seed=1, fleet="demo",   # or "scaled" / "empty"
                             services=2000, pods_per_service=10, gpu_nodes=200, cpu_nodes=0,  # scaled only
                             ready_delay=1.0,   # seconds from a pod's binding to Ready
                             tick=0.2,          # controller round period (they also wake on change)
                             history=1000,      # watch events kept per resource (older RVs get 410)
                             hpa_period=3.0,    # HPA sync period (a real cluster: 15 s)
                             bookmark_interval=5.0,
                             grace_factor=0.1,  # a deleted pod stays Terminating for its grace × this
                             heartbeat=(10.0, 40.0))  # seconds between one node's heartbeats
    c.name, c.url, c.admin_token, c.readonly_token   # users "sim-admin" and "sim-viewer"
    c.store        # thread-safe Store: get/list/create/update/patch/delete(resource, namespace, name, ...)
                   #   resource is the plural ("deployments"); patch(..., content_type=MERGE|STRATEGIC|JSON)
    c.set_node_ready(name, ready)          # NotReady taints the node and evicts its pods
    c.set_load(namespace, target, cpu_percent)  # what HPAs targeting `target` observe
    c.mutations    # mutating HTTP requests (POST/PUT/PATCH/DELETE) that reached the server, reviews excluded
    c.faults.fail_next(n, status=503); c.faults.delay_next(n, seconds); c.faults.close_watches()
    c.compact()    # drop watch history: older resourceVersions answer 410 Expired
    c.restart()    # stop the HTTP server and start it again on the same port, keeping state
    c.settle(timeout)  # wait until the controllers are idle (tests)
    c.stop()

    write_kubeconfig(path, [c1, c2], readonly=False)
    # one context per cluster named c.name (admin token, or the read-only one if readonly=True),
    # plus "<name>-readonly" contexts; current-context is the first cluster.

Transport: HTTPS on 127.0.0.1 with a self-signed certificate made once per process in Python
(kubectl sends kubeconfig credentials only over TLS); the kubeconfig carries it as
`certificate-authority-data`, and `c.ssl_context()` gives urllib a context that trusts it.
`c.mutations` counts refused (403) requests too: anything that reached the server.

Not simulated (a real server has them): server-side apply (415), protobuf request bodies except the
access reviews (so `kubectl create deployment|service|configmap ...` generators fail: use
`kubectl create -f`), aggregated discovery (kubectl falls back to per-group discovery), finalizers (objects other
than running pods go at once; owners' children are garbage-collected), pod exec/eviction,
metrics APIs, admission webhooks and most validation beyond replicas/selector/template labels.

Modules: `store` (objects, resourceVersions, watch history), `api` (request semantics), `server`
(HTTP, watch streams, faults), `discovery`, `tables` (as=Table), `patch`, `selectors`, `auth`,
`controllers` (+ `rollouts`, `kserve`), `fleet` (seeded fleets), `objects` (builders), `pods` (pod
strategy: initial status, QoS class, graceful deletion), `clusterips` (Service IP allocation).
"""

from mlops_tui.sim.kube.cluster import SimKubeCluster, kubeconfig, write_kubeconfig

__all__ = ["SimKubeCluster", "kubeconfig", "write_kubeconfig"]

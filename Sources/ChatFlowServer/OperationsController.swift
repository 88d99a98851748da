import ChatFlowCore
import Foundation
import Hummingbird

/// `/healthz`, `/readyz`, `/metrics` and `/openapi.yaml`: no token needed.
struct OperationsController {
    let engine: ChatFlowEngine
    let metrics: ServerMetrics
    let readiness: Readiness
    /// Nil for a router made without live delivery (as tests of the routes alone make it).
    let hub: LiveHub?

    func addRoutes(to router: some RouterMethods<ChatFlowRequestContext>) {
        router.get("/healthz") { _, _ in
            try JSONResponse.make(["status": "ok"])
        }
        router.get("/readyz") { _, _ in
            if let problem = readiness.problem(projector: engine.projector) {
                return try JSONResponse.make(["status": "not ready", "detail": problem], status: .serviceUnavailable)
            }
            return try JSONResponse.make(["status": "ready"])
        }
        router.get("/metrics") { _, _ in
            metrics.updateLag(projector: engine.projector)
            metrics.updateProcess()
            metrics.updateStore(log: engine.log, database: engine.store.database)
            if let hub { metrics.updateSubscriptions(hub: hub) }
            var buffer: [UInt8] = []
            metrics.registry.emit(into: &buffer)
            return Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4"],
                            body: .init(byteBuffer: ByteBuffer(bytes: buffer)))
        }
        router.get("/openapi.yaml") { _, _ in
            Response(status: .ok, headers: [.contentType: "application/yaml"],
                     body: .init(byteBuffer: ByteBuffer(string: OpenAPIDocument.yaml)))
        }
    }
}

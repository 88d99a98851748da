import Foundation

/// The OpenAPI 3.1 description of the HTTP API (`openapi.yaml` in this module), served at `/openapi.yaml`.
enum OpenAPIDocument {
    static let yaml: String = {
        guard let path = ServerResources.path("openapi.yaml"),
              let text = try? String(contentsOfFile: path, encoding: .utf8) else { return "openapi: 3.1.0\n" }
        return text
    }()
}

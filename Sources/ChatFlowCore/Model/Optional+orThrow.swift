/// Turns a missing value into a domain error.
extension Optional {
    func orThrow(_ error: ChatFlowError) throws -> Wrapped {
        guard let self else { throw error }
        return self
    }
}

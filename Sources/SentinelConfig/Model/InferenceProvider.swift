/// The API dialect of an inference upstream (how requests, models and token usage are read).
public enum InferenceProvider: String, Sendable, Hashable {
    case openAI = "openai"
    case anthropic
    case generic

    static let options: [(String, InferenceProvider)] = [
        ("openai", .openAI), ("open-ai", .openAI), ("anthropic", .anthropic), ("generic", .generic),
    ]
}

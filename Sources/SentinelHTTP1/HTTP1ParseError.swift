/// Why an HTTP/1.1 head or chunked body was refused, and the status to answer with.
///
/// There is exactly one error type for the parsing core. `code` says which rule was broken
/// (stable, comparable, for metrics and tests); `status` is what the proxy sends: 400, 414, 431,
/// 501 or 505 for a client's request, and always 502 for an upstream's response, whose faults
/// are never the client's. `offset` is where in the parsed bytes the problem was noticed.
public struct HTTP1ParseError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The broken rule. A struct over a private enum so rules can be added without breaking callers.
    public struct Code: Error, Hashable, Sendable, CustomStringConvertible {
        fileprivate enum Base: UInt8 {
            case bareLineFeed, bareCarriageReturn, controlCharacter, tooManyEmptyLines
            case invalidRequestLine, invalidMethod, invalidTarget, targetFormMismatch, uriTooLong
            case invalidVersion, unsupportedVersion, invalidStatusLine, invalidStatus
            case obsFold, whitespaceBeforeColon, emptyFieldName, invalidFieldName, missingColon
            case headerSectionTooLarge, tooManyFields, fieldNameTooLong, fieldValueTooLong
            case missingHost, duplicateHost, invalidHost, hostAuthorityMismatch
            case invalidContentLength, conflictingContentLength, contentLengthWithTransferEncoding
            case invalidTransferEncoding, chunkedNotFinal, unsupportedTransferCoding, transferEncodingInHTTP10
            case invalidConnection, protectedConnectionOption, duplicateUpgrade
            case invalidChunkSize, invalidChunkExtension, chunkExtensionsTooLarge, missingChunkDataCRLF
            case invalidTrailer, trailerSectionTooLarge, forbiddenTrailerField
        }
        fileprivate let base: Base
        fileprivate init(_ base: Base) { self.base = base }

        public static let bareLineFeed = Code(.bareLineFeed)
        public static let bareCarriageReturn = Code(.bareCarriageReturn)
        public static let controlCharacter = Code(.controlCharacter)
        public static let tooManyEmptyLines = Code(.tooManyEmptyLines)
        public static let invalidRequestLine = Code(.invalidRequestLine)
        public static let invalidMethod = Code(.invalidMethod)
        public static let invalidTarget = Code(.invalidTarget)
        public static let targetFormMismatch = Code(.targetFormMismatch)
        public static let uriTooLong = Code(.uriTooLong)
        public static let invalidVersion = Code(.invalidVersion)
        public static let unsupportedVersion = Code(.unsupportedVersion)
        public static let invalidStatusLine = Code(.invalidStatusLine)
        public static let invalidStatus = Code(.invalidStatus)
        public static let obsFold = Code(.obsFold)
        public static let whitespaceBeforeColon = Code(.whitespaceBeforeColon)
        public static let emptyFieldName = Code(.emptyFieldName)
        public static let invalidFieldName = Code(.invalidFieldName)
        public static let missingColon = Code(.missingColon)
        public static let headerSectionTooLarge = Code(.headerSectionTooLarge)
        public static let tooManyFields = Code(.tooManyFields)
        public static let fieldNameTooLong = Code(.fieldNameTooLong)
        public static let fieldValueTooLong = Code(.fieldValueTooLong)
        public static let missingHost = Code(.missingHost)
        public static let duplicateHost = Code(.duplicateHost)
        public static let invalidHost = Code(.invalidHost)
        public static let hostAuthorityMismatch = Code(.hostAuthorityMismatch)
        public static let invalidContentLength = Code(.invalidContentLength)
        public static let conflictingContentLength = Code(.conflictingContentLength)
        public static let contentLengthWithTransferEncoding = Code(.contentLengthWithTransferEncoding)
        public static let invalidTransferEncoding = Code(.invalidTransferEncoding)
        public static let chunkedNotFinal = Code(.chunkedNotFinal)
        public static let unsupportedTransferCoding = Code(.unsupportedTransferCoding)
        public static let transferEncodingInHTTP10 = Code(.transferEncodingInHTTP10)
        public static let invalidConnection = Code(.invalidConnection)
        public static let protectedConnectionOption = Code(.protectedConnectionOption)
        public static let duplicateUpgrade = Code(.duplicateUpgrade)
        public static let invalidChunkSize = Code(.invalidChunkSize)
        public static let invalidChunkExtension = Code(.invalidChunkExtension)
        public static let chunkExtensionsTooLarge = Code(.chunkExtensionsTooLarge)
        public static let missingChunkDataCRLF = Code(.missingChunkDataCRLF)
        public static let invalidTrailer = Code(.invalidTrailer)
        public static let trailerSectionTooLarge = Code(.trailerSectionTooLarge)
        public static let forbiddenTrailerField = Code(.forbiddenTrailerField)

        /// The status a server answers a client's request with when this rule is broken.
        public var requestStatus: Int {
            switch base {
            case .uriTooLong: 414
            case .headerSectionTooLarge, .tooManyFields, .fieldNameTooLong, .fieldValueTooLong,
                .trailerSectionTooLarge:
                431
            case .unsupportedTransferCoding: 501
            case .unsupportedVersion: 505
            default: 400
            }
        }

        /// A short reason for logs and error pages; never echoes input bytes.
        public var description: String {
            switch base {
            case .bareLineFeed: "line ending without CR (bare LF)"
            case .bareCarriageReturn: "CR not followed by LF (bare CR)"
            case .controlCharacter: "control character in head"
            case .tooManyEmptyLines: "more than one empty line before the start line"
            case .invalidRequestLine: "malformed request line"
            case .invalidMethod: "invalid method token"
            case .invalidTarget: "invalid request target"
            case .targetFormMismatch: "request target form not allowed for this method"
            case .uriTooLong: "request target too long"
            case .invalidVersion: "malformed HTTP version"
            case .unsupportedVersion: "HTTP version not supported"
            case .invalidStatusLine: "malformed status line"
            case .invalidStatus: "invalid status code"
            case .obsFold: "obsolete line folding"
            case .whitespaceBeforeColon: "whitespace between field name and colon"
            case .emptyFieldName: "empty field name"
            case .invalidFieldName: "invalid character in field name"
            case .missingColon: "field line without colon"
            case .headerSectionTooLarge: "header section too large"
            case .tooManyFields: "too many header fields"
            case .fieldNameTooLong: "field name too long"
            case .fieldValueTooLong: "field value too long"
            case .missingHost: "missing Host"
            case .duplicateHost: "more than one Host"
            case .invalidHost: "invalid Host or authority"
            case .hostAuthorityMismatch: "Host differs from the target's authority"
            case .invalidContentLength: "invalid Content-Length"
            case .conflictingContentLength: "several or conflicting Content-Length values"
            case .contentLengthWithTransferEncoding: "both Content-Length and Transfer-Encoding"
            case .invalidTransferEncoding: "malformed Transfer-Encoding"
            case .chunkedNotFinal: "chunked is not the final transfer coding"
            case .unsupportedTransferCoding: "transfer coding not implemented"
            case .transferEncodingInHTTP10: "Transfer-Encoding in an HTTP/1.0 message"
            case .invalidConnection: "malformed Connection"
            case .protectedConnectionOption: "Connection names an end-to-end framing field"
            case .duplicateUpgrade: "more than one Upgrade"
            case .invalidChunkSize: "invalid chunk size"
            case .invalidChunkExtension: "invalid chunk extension"
            case .chunkExtensionsTooLarge: "chunk extensions too large"
            case .missingChunkDataCRLF: "chunk data not followed by CRLF"
            case .invalidTrailer: "invalid trailer field"
            case .trailerSectionTooLarge: "trailer section too large"
            case .forbiddenTrailerField: "framing or routing field in trailers"
            }
        }
    }

    /// The broken rule.
    public let code: Code
    /// The status to answer with (502 when an upstream response was at fault).
    public let status: Int
    /// Where in the parsed bytes the problem was noticed.
    public let offset: Int

    public init(_ code: Code, status: Int, offset: Int) {
        self.code = code
        self.status = status
        self.offset = offset
    }

    /// A short, input-free reason.
    public var reason: String { code.description }
    public var description: String { "\(status) \(code.description) (at byte \(offset))" }
}

/// Who sent the message: decides the status of every error.
enum HTTP1Role: Sendable {
    case request, response

    func error(_ code: HTTP1ParseError.Code, at offset: Int) -> HTTP1ParseError {
        HTTP1ParseError(code, status: self == .request ? code.requestStatus : 502, offset: offset)
    }
}

"""What Azure API Management accepts in a policy, copied from Microsoft's reference pages as data.

The policy checks (tests/apim_policy_lint.py) read these tables; when APIM's docs change, change the
table here and name the page. Nothing here is guessed: every entry is from the page named beside it.
"""

from __future__ import annotations

EXPRESSIONS_URL = "https://learn.microsoft.com/azure/api-management/api-management-policy-expressions"
# The ".NET Framework types allowed in policy expressions" table (#CLRTypes), as in
# MicrosoftDocs/azure-docs articles/api-management/api-management-policy-expressions.md (ms.date 03/07/2023).
# ALL: every member. A frozenset: only those members ("(Constructor)" becomes "new").
ALL = None
_DATETIME = (
    "new Add AddDays AddHours AddMilliseconds AddMinutes AddMonths AddSeconds AddTicks AddYears Date Day "
    "DayOfWeek DayOfYear DaysInMonth Hour IsDaylightSavingTime IsLeapYear MaxValue Millisecond Minute "
    "MinValue Month Now Parse Second Subtract Ticks TimeOfDay Today ToString UtcNow Year"
)
_ALL_TYPES = """
Newtonsoft.Json.Formatting Newtonsoft.Json.Linq.Extensions Newtonsoft.Json.Linq.JArray
Newtonsoft.Json.Linq.JConstructor Newtonsoft.Json.Linq.JContainer Newtonsoft.Json.Linq.JObject
Newtonsoft.Json.Linq.JProperty Newtonsoft.Json.Linq.JRaw Newtonsoft.Json.Linq.JToken
Newtonsoft.Json.Linq.JTokenType Newtonsoft.Json.Linq.JValue System.Array System.BitConverter System.Boolean
System.Byte System.Char System.Collections.Generic.Dictionary System.Collections.Generic.HashSet
System.Collections.Generic.ICollection System.Collections.Generic.IDictionary System.Collections.Generic.IEnumerable
System.Collections.Generic.IEnumerator System.Collections.Generic.IList System.Collections.Generic.IReadOnlyCollection
System.Collections.Generic.IReadOnlyDictionary System.Collections.Generic.ISet System.Collections.Generic.KeyValuePair
System.Collections.Generic.List System.Collections.Generic.Queue System.Collections.Generic.Stack System.Convert
System.DateTimeOffset System.Decimal System.Double System.Exception System.Guid System.Int16 System.Int32
System.Int64 System.IO.StringReader System.IO.StringWriter System.Linq.Enumerable System.Math
System.MidpointRounding System.Net.WebUtility System.Nullable System.Random System.SByte
System.Security.Cryptography.AsymmetricAlgorithm System.Security.Cryptography.CipherMode
System.Security.Cryptography.HashAlgorithm System.Security.Cryptography.HashAlgorithmName
System.Security.Cryptography.HMAC System.Security.Cryptography.HMACMD5 System.Security.Cryptography.HMACSHA1
System.Security.Cryptography.HMACSHA256 System.Security.Cryptography.HMACSHA384
System.Security.Cryptography.HMACSHA512 System.Security.Cryptography.KeyedHashAlgorithm
System.Security.Cryptography.MD5 System.Security.Cryptography.Oid System.Security.Cryptography.PaddingMode
System.Security.Cryptography.RNGCryptoServiceProvider System.Security.Cryptography.RSA
System.Security.Cryptography.RSAEncryptionPadding System.Security.Cryptography.RSASignaturePadding
System.Security.Cryptography.SHA1 System.Security.Cryptography.SHA1Managed System.Security.Cryptography.SHA256
System.Security.Cryptography.SHA256Managed System.Security.Cryptography.SHA384
System.Security.Cryptography.SHA384Managed System.Security.Cryptography.SHA512
System.Security.Cryptography.SHA512Managed System.Security.Cryptography.X509Certificates.PublicKey
System.Security.Cryptography.X509Certificates.RSACertificateExtensions
System.Security.Cryptography.X509Certificates.X509Certificate
System.Security.Cryptography.X509Certificates.X509Certificate2
System.Security.Cryptography.X509Certificates.X509ContentType
System.Security.Cryptography.X509Certificates.X509NameType System.Single System.String System.StringComparer
System.StringComparison System.StringSplitOptions System.Text.Encoding System.Text.RegularExpressions.RegexOptions
System.Text.StringBuilder System.TimeSpan System.TimeZone System.TimeZoneInfo.AdjustmentRule
System.TimeZoneInfo.TransitionTime System.TimeZoneInfo System.Tuple System.UInt16 System.UInt32 System.UInt64
System.Uri System.UriPartial System.Xml.Linq.Extensions System.Xml.Linq.XAttribute System.Xml.Linq.XCData
System.Xml.Linq.XComment System.Xml.Linq.XContainer System.Xml.Linq.XDeclaration System.Xml.Linq.XDocumentType
System.Xml.Linq.XElement System.Xml.Linq.XName System.Xml.Linq.XNamespace System.Xml.Linq.XNode
System.Xml.Linq.XNodeDocumentOrderComparer System.Xml.Linq.XNodeEqualityComparer System.Xml.Linq.XObject
System.Xml.Linq.XProcessingInstruction System.Xml.Linq.XText System.Xml.XmlNodeType
"""
ALLOWED_TYPES: dict[str, frozenset[str] | None] = dict.fromkeys(_ALL_TYPES.split(), ALL) | {
    "Newtonsoft.Json.JsonConvert": frozenset({"SerializeObject", "DeserializeObject"}),
    "System.DateTime": frozenset(_DATETIME.split()),
    "System.DateTimeKind": frozenset({"Utc"}),
    "System.Enum": frozenset({"Parse", "TryParse", "ToString"}),
    "System.Net.IPAddress": frozenset(
        {"AddressFamily", "Equals", "GetAddressBytes", "IsLoopback", "Parse", "TryParse", "ToString"}
    ),
    "System.Security.Cryptography.X509Certificates.X500DistinguishedName": frozenset({"Name"}),
    "System.Text.RegularExpressions.Capture": frozenset({"Index", "Length", "Value"}),
    "System.Text.RegularExpressions.CaptureCollection": frozenset({"Count", "Item"}),
    "System.Text.RegularExpressions.Group": frozenset({"Captures", "Success"}),
    "System.Text.RegularExpressions.GroupCollection": frozenset({"Count", "Item"}),
    "System.Text.RegularExpressions.Match": frozenset({"Empty", "Groups", "Result"}),
    "System.Text.RegularExpressions.Regex": frozenset(
        {"new", "IsMatch", "Match", "Matches", "Replace", "Unescape", "Split"}
    ),
}
# "All except": SymmetricAlgorithm (parameterless Create()) and XDocument (Load). Listed as all members here;
# the exceptions are overloads the checker cannot tell apart, and our policies use neither type.
ALLOWED_TYPES["System.Security.Cryptography.SymmetricAlgorithm"] = ALL
ALLOWED_TYPES["System.Xml.Linq.XDocument"] = ALL

# .NET inheritance that gives a restricted type its base type's listed members (Match is a Group is a Capture:
# the page's own example reads Groups["maxAge"]?.Value).
BASE_TYPES = {
    "System.Text.RegularExpressions.Match": "System.Text.RegularExpressions.Group",
    "System.Text.RegularExpressions.Group": "System.Text.RegularExpressions.Capture",
}

# C# keywords that name allowed types. `object` is every value's base; only its own members apply.
TYPE_KEYWORDS = {
    "bool": "System.Boolean",
    "byte": "System.Byte",
    "sbyte": "System.SByte",
    "char": "System.Char",
    "short": "System.Int16",
    "ushort": "System.UInt16",
    "int": "System.Int32",
    "uint": "System.UInt32",
    "long": "System.Int64",
    "ulong": "System.UInt64",
    "float": "System.Single",
    "double": "System.Double",
    "decimal": "System.Decimal",
    "string": "System.String",
    "object": "System.Object",
}
OBJECT_MEMBERS = frozenset({"ToString", "Equals", "GetHashCode"})

# The `context` variable and the gateway's own types, from the same page's "Context variable" table:
# type -> member -> the member's type (None: not modelled, so what follows it is not checked).
S, I, B, DT, TS = "System.String", "System.Int32", "System.Boolean", "System.DateTime", "System.TimeSpan"  # noqa: E741 - one letter each, so the table reads like the docs'
X509 = "System.Security.Cryptography.X509Certificates.X509Certificate2"
DICT = "IReadOnlyDictionary"  # documented GetValueOrDefault(name, default) -> string; all IReadOnlyDictionary members
CONTEXT_TYPES: dict[str, dict[str, str | None]] = {
    "context": {
        "Api": "IApi",
        "Deployment": "IDeployment",
        "Elapsed": TS,
        "GraphQL": None,
        "LastError": "ILastError",
        "Operation": "IOperation",
        "Product": "IProduct",
        "Request": "IRequest",
        "RequestId": "System.Guid",
        "Response": "IResponse",
        "Subscription": "ISubscription",
        "Timestamp": DT,
        "Tracing": B,
        "User": "IUser",
        "Variables": "Variables",
        "Trace": None,
        "Workspace": "IWorkspace",
    },
    "IApi": {
        "Id": S,
        "IsCurrentRevision": B,
        "Name": S,
        "Path": S,
        "Revision": S,
        "ServiceUrl": "IUrl",
        "Version": S,
        "Protocols": None,
        "SubscriptionKeyParameterNames": None,
    },
    "IDeployment": {
        "Gateway": None,
        "GatewayId": S,
        "Region": S,
        "ServiceId": S,
        "ServiceName": S,
        "SustainabilityInfo": None,
        "Certificates": DICT,
    },
    "ILastError": {"Source": S, "Reason": S, "Message": S, "Scope": S, "Section": S, "Path": S, "PolicyId": S},
    "IOperation": {"Id": S, "Method": S, "Name": S, "UrlTemplate": S},
    "IProduct": {
        "ApprovalRequired": B,
        "Groups": None,
        "Id": S,
        "Name": S,
        "State": None,
        "SubscriptionsLimit": None,
        "SubscriptionRequired": B,
    },
    "IRequest": {
        "Body": "IMessageBody",
        "Certificate": X509,
        "Headers": DICT,
        "IpAddress": S,
        "MatchedParameters": DICT,
        "Method": S,
        "OriginalUrl": "IUrl",
        "Url": "IUrl",
        "PrivateEndpointConnection": None,
    },
    # context.Response; also what send-request stores in its response variable (cast to IResponse on the retry page).
    "IResponse": {"Body": "IMessageBody", "Headers": DICT, "StatusCode": I, "StatusReason": S},
    "ISubscription": {
        "CreatedDate": DT,
        "EndDate": None,
        "Id": S,
        "Key": S,
        "Name": S,
        "PrimaryKey": S,
        "SecondaryKey": S,
        "StartDate": None,
    },
    "IUser": {
        "Email": S,
        "FirstName": S,
        "Groups": None,
        "Id": S,
        "Identities": None,
        "LastName": S,
        "Note": S,
        "RegistrationDate": DT,
    },
    "IWorkspace": {"Id": S, "Name": S},
    # ToUri: listed for URL objects on https://learn.microsoft.com/azure/api-management/set-body-policy.
    "IUrl": {"Host": S, "Path": S, "Port": I, "Query": DICT, "QueryString": S, "Scheme": S, "ToUri": "System.Uri"},
    "IMessageBody": {"As": None, "AsFormUrlEncodedContent": None},
    "Variables": {
        "GetValueOrDefault": None,
        "ContainsKey": B,
        "TryGetValue": B,
        "Keys": None,
        "Values": None,
        "Count": I,
    },
    "Jwt": {
        "Algorithm": S,
        "Audiences": None,
        "Claims": DICT,
        "ExpirationTime": None,
        "Id": S,
        "Issuer": S,
        "IssuedAt": None,
        "NotBefore": None,
        "Subject": S,
        "Type": S,
    },
    "BasicAuthCredentials": {"Password": S, "UserId": S},
}
# Gateway types a policy may name (casts, generic arguments); IResponse is named on the retry page.
GATEWAY_TYPE_NAMES = {
    "Jwt": "Jwt",
    "IResponse": "IResponse",
    "BasicAuthCredentials": "BasicAuthCredentials",
    "IMessageBody": "IMessageBody",
    "IUrl": "IUrl",
}

# What a few allowed members return, so that chains such as DateTime.UtcNow.Subtract(x) stay typed.
_STRING_RESULTS = (
    "Trim TrimStart TrimEnd ToLower ToLowerInvariant ToUpper ToUpperInvariant Substring Replace "
    "ToString PadLeft PadRight Insert Remove Format Join Concat Normalize"
)
MEMBER_TYPES: dict[str, dict[str, str]] = {
    "System.String": dict.fromkeys(_STRING_RESULTS.split(), S)
    | {"Length": I, "IndexOf": I, "LastIndexOf": I, "Split": "System.Array"},
    DT: dict.fromkeys(
        "UtcNow Now Today MinValue MaxValue Date Add AddDays AddHours AddMilliseconds AddMinutes "
        "AddMonths AddSeconds AddTicks AddYears Parse".split(),
        DT,
    )
    | {"ToString": S, "TimeOfDay": TS},
    "System.Text.Encoding": dict.fromkeys(("UTF8", "ASCII", "Unicode", "UTF32", "Default"), "System.Text.Encoding"),
    "System.Guid": {"ToString": S},
    "Newtonsoft.Json.JsonConvert": {"SerializeObject": S},
    "System.Text.RegularExpressions.Regex": {
        "Match": "System.Text.RegularExpressions.Match",
        "Replace": S,
        "IsMatch": B,
    },
    "System.Text.RegularExpressions.Match": {"Groups": "System.Text.RegularExpressions.GroupCollection"},
    "System.Text.RegularExpressions.Group": {"Captures": "System.Text.RegularExpressions.CaptureCollection"},
    "System.Text.RegularExpressions.Capture": {"Value": S},
}
# What `x[...]` gives for the types where it matters.
INDEXER_TYPES = {
    "System.Text.RegularExpressions.GroupCollection": "System.Text.RegularExpressions.Group",
    "System.Text.RegularExpressions.CaptureCollection": "System.Text.RegularExpressions.Capture",
}


# Policy elements -> the attributes their reference page lists, with the page. A policy element missing here
# fails the attribute check until its page has been read and its row added.
def _page(name: str) -> str:
    return f"https://learn.microsoft.com/azure/api-management/{name}"


POLICY_ATTRIBUTES: dict[str, tuple[str, frozenset[str]]] = {
    element: (url, frozenset(attributes.split()))
    for element, url, attributes in [
        # Document structure (https://learn.microsoft.com/azure/api-management/api-management-howto-policies).
        ("policies", _page("api-management-howto-policies"), ""),
        ("inbound", _page("api-management-howto-policies"), ""),
        ("backend", _page("api-management-howto-policies"), ""),
        ("outbound", _page("api-management-howto-policies"), ""),
        ("on-error", _page("api-management-howto-policies"), ""),
        ("base", _page("api-management-howto-policies"), ""),
        ("fragment", _page("policy-fragments"), ""),
        ("include-fragment", _page("include-fragment-policy"), "fragment-id"),
        ("choose", _page("choose-policy"), ""),
        ("when", _page("choose-policy"), "condition"),
        ("otherwise", _page("choose-policy"), ""),
        ("retry", _page("retry-policy"), "condition count interval max-interval delta first-fast-retry"),
        (
            "forward-request",
            _page("forward-request-policy"),
            "http-version timeout timeout-ms continue-timeout follow-redirects buffer-request-body buffer-response "
            "fail-on-error-status-code",
        ),
        (
            "set-backend-service",
            _page("set-backend-service-policy"),
            "base-url backend-id sf-resolve-condition sf-service-instance-name sf-partition-key sf-listener-name",
        ),
        ("set-variable", _page("set-variable-policy"), "name value"),
        ("return-response", _page("return-response-policy"), "response-variable-name"),
        ("set-status", _page("set-status-policy"), "code reason"),
        ("set-header", _page("set-header-policy"), "name exists-action"),
        ("value", _page("set-header-policy"), ""),
        ("set-body", _page("set-body-policy"), "template xsi-nil parse-date"),
        ("send-request", _page("send-request-policy"), "mode response-variable-name timeout ignore-error"),
        ("set-url", _page("send-request-policy"), ""),
        ("set-method", _page("send-request-policy"), ""),
        ("log-to-eventhub", _page("log-to-eventhub-policy"), "logger-id partition-id partition-key"),
        (
            "authentication-managed-identity",
            _page("authentication-managed-identity-policy"),
            "resource client-id output-token-variable-name ignore-error",
        ),
        (
            "validate-azure-ad-token",
            _page("validate-azure-ad-token-policy"),
            "tenant-id header-name query-parameter-name token-value authentication-endpoint failed-validation-httpcode "
            "failed-validation-error-message output-token-variable-name",
        ),
        ("audiences", _page("validate-azure-ad-token-policy"), ""),
        ("audience", _page("validate-azure-ad-token-policy"), ""),
        ("client-application-ids", _page("validate-azure-ad-token-policy"), ""),
        ("backend-application-ids", _page("validate-azure-ad-token-policy"), ""),
        ("application-id", _page("validate-azure-ad-token-policy"), ""),
        ("required-claims", _page("validate-azure-ad-token-policy"), ""),
        ("claim", _page("validate-azure-ad-token-policy"), "name match separator"),
        (
            "llm-token-limit",
            _page("llm-token-limit-policy"),
            "counter-key tokens-per-minute token-quota token-quota-period estimate-prompt-tokens "
            "retry-after-header-name retry-after-variable-name remaining-quota-tokens-header-name "
            "remaining-quota-tokens-variable-name remaining-tokens-header-name remaining-tokens-variable-name "
            "tokens-consumed-header-name tokens-consumed-variable-name",
        ),
        ("llm-emit-token-metric", _page("llm-emit-token-metric-policy"), "namespace"),
        ("dimension", _page("llm-emit-token-metric-policy"), "name value"),
    ]
}

# llm-emit-token-metric: "You can configure at most 5 custom dimensions for this policy."
LLM_METRIC_MAX_DIMENSIONS = 5
# retry: count "a positive number between 1 and 50"; interval, max-interval, delta "a positive number in seconds".
RETRY_COUNT_RANGE = (1, 50)
RETRY_POSITIVE_SECONDS = ("interval", "max-interval", "delta")
# forward-request: buffer-response "Policy expressions aren't allowed"; timeout or timeout-ms, not both.
FORWARD_REQUEST_HTTP_VERSIONS = {"1", "2", "2or1"}

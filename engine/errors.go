// errors.go is the table of gateway error codes and the error JSON of DESIGN.md:
// {"success":false,"errors":[{"code":N,"message":"..."}]}. Upstream errors never pass
// through here: they go back to the client verbatim.
package engine

import (
	stdjson "encoding/json"
	"strconv"
	"strings"
)

// GatewayError is an error the gateway itself answers with.
type GatewayError struct {
	Status  int
	Code    int
	Message string
	// Body, when set, is the answer instead of the gateway error JSON: the unified API
	// answers in the OpenAI error shape its clients parse.
	Body []byte
	// RetryAfter, when positive, is the Retry-After header (seconds) of a 429.
	RetryAfter int
}

func (e *GatewayError) Error() string { return strconv.Itoa(e.Code) + ": " + e.Message }

// Gateway error codes. 2016/2017 (guardrails) and 2029/2030 (DLP) are the reference's;
// the others are Switchyard's, kept stable once published (see README "Error codes").
const (
	CodeMalformedPath   = 2001 // 404: the URL is not a data-plane shape
	CodeUnknownProvider = 2002 // 400: the provider slug is not registered
	CodeRateLimited     = 2003 // 429: a rate limit is exhausted (a stored key's, the gateway's, a route's)
	CodeGatewayNotFound = 2004 // 404: no gateway with that id in the account
	CodeStoredKey       = 2005 // 400: the stored key named by cf-aig-byok-alias is missing or unusable
	CodeBadRequest      = 2006 // 400: the request cannot be forwarded as sent
	CodeBodyTooLarge    = 2007 // 413: the body is over the configured maximum
	CodeUnauthorized    = 2009 // 401: gateway authentication failed
	CodeUpstreamFailed  = 2010 // 502: the upstream refused, reset or could not be reached
	CodeUpstreamTimeout = 2011 // 504: the upstream did not answer in time
	CodeInternal        = 2015 // 500: a bug in the gateway; the request is logged as failed
	CodeShuttingDown    = 2018 // 503: the gateway is stopping and takes no new requests
	CodeSpendLimit      = 2019 // 429: a gateway spend limit is reached until its period resets
	CodeRouteNoAnswer   = 2020 // 502: a dynamic route reached its end without any model answering
	CodeHeaderTooLarge  = 2021 // 431: the request's headers do not fit the gateway's read buffer
	CodeProviderAuth    = 2022 // 401: provider credentials (a Vertex AI service account) could not be exchanged for an access token
	CodeGuardrailPrompt = 2016
	CodeGuardrailAnswer = 2017
	CodeDLPRequest      = 2029
	CodeDLPResponse     = 2030
)

// Errorf builds a GatewayError.
func Errorf(status, code int, msg string) *GatewayError {
	return &GatewayError{Status: status, Code: code, Message: msg}
}

// JSON renders the error body.
func (e *GatewayError) JSON() []byte {
	if e.Body != nil {
		return e.Body
	}
	var b strings.Builder
	b.Grow(64 + len(e.Message))
	b.WriteString(`{"success":false,"errors":[{"code":`)
	b.WriteString(strconv.Itoa(e.Code))
	b.WriteString(`,"message":`)
	// a JSON string, not strconv.Quote: Go's \x7f, \U0001xxxx and \xff escapes (a client's
	// bytes echoed in a message) are not JSON
	enc := stdjson.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(e.Message) // writes a trailing newline, dropped below
	return []byte(strings.TrimSuffix(b.String(), "\n") + `}]}`)
}

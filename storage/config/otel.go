// otel.go reads a gateway's otel setting in the hosted shape (cloudflare-go v7 ai_gateway
// AIGatewayUpdateParamsOtel): a list of OTLP/HTTP trace exporters {url, headers,
// authorization, content_type}. authorization names a stored secret (the secret_id of a
// provider key of the same account, see keys.go) whose value is sent as the Authorization
// header; the setting never holds a credential in clear. A malformed setting is refused
// with the field named; storage/otel exports the spans.
package config

import (
	"net/url"
	"strconv"
	"strings"

	json "github.com/goccy/go-json"
)

// OTel content types: OTLP/JSON (the reference's) and OTLP/protobuf.
const (
	OTelJSON     = "json"
	OTelProtobuf = "protobuf"
)

// Bounds of the setting.
const (
	maxOTelExporters = 10
	maxOTelHeaders   = 32
	maxOTelURL       = 2048
)

// OTelExporter is one exporter: the full OTLP/HTTP traces endpoint (spans are POSTed to
// it as is, e.g. http://collector:4318/v1/traces), extra headers, the secret id whose
// value is the Authorization header ("" for none) and the encoding.
type OTelExporter struct {
	URL           string
	Headers       map[string]string
	Authorization string
	ContentType   string
}

type otelBody struct {
	URL           *string           `json:"url"`
	Headers       map[string]string `json:"headers"`
	Authorization *string           `json:"authorization"`
	ContentType   *string           `json:"content_type"`
}

// ParseOTel reads an otel setting. It answers nil when the setting is absent, null or an
// empty list, and an error naming the field at fault.
func ParseOTel(raw json.RawMessage) ([]OTelExporter, *Error) {
	if !setRaw(raw) {
		return nil, nil
	}
	var items []json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil {
		return nil, invalid("otel must be a list of exporters {url, headers, authorization, content_type}", "body", "otel")
	}
	if len(items) > maxOTelExporters {
		return nil, invalid("otel holds at most "+strconv.Itoa(maxOTelExporters)+" exporters", "body", "otel")
	}
	out := make([]OTelExporter, 0, len(items))
	for i, item := range items {
		at := "otel[" + strconv.Itoa(i) + "]"
		idx := strconv.Itoa(i)
		var keys map[string]json.RawMessage
		if err := json.Unmarshal(item, &keys); err != nil {
			return nil, invalid(at+" must be an object {url, headers, authorization, content_type}", "body", "otel", idx)
		}
		for k := range keys {
			switch k {
			case "url", "headers", "authorization", "content_type":
			default:
				return nil, invalid(at+"."+k+" is not an exporter setting (url, headers, authorization, content_type)", "body", "otel", idx, k)
			}
		}
		var b otelBody
		if err := json.Unmarshal(item, &b); err != nil {
			return nil, invalid(at+": url, authorization and content_type must be strings and headers an object of strings", "body", "otel", idx)
		}
		e := OTelExporter{ContentType: OTelJSON, Headers: b.Headers}
		if b.URL == nil || *b.URL == "" {
			return nil, invalid(at+".url is required", "body", "otel", idx, "url")
		}
		u, err := url.Parse(*b.URL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil || len(*b.URL) > maxOTelURL {
			return nil, invalid(at+".url must be an absolute http or https URL (the collector's OTLP/HTTP traces endpoint, e.g. https://collector.example/v1/traces) without credentials", "body", "otel", idx, "url")
		}
		e.URL = *b.URL
		if len(b.Headers) > maxOTelHeaders {
			return nil, invalid(at+".headers holds at most "+strconv.Itoa(maxOTelHeaders)+" headers", "body", "otel", idx, "headers")
		}
		for k, v := range b.Headers {
			if !headerName(k) {
				return nil, invalid(at+".headers: "+strconv.Quote(k)+" is not a header name", "body", "otel", idx, "headers", k)
			}
			switch strings.ToLower(k) {
			case "content-type", "content-length", "host", "transfer-encoding", "connection":
				return nil, invalid(at+".headers."+k+" is set by the gateway", "body", "otel", idx, "headers", k)
			}
			if strings.ContainsAny(v, "\r\n\x00") || len(v) > maxSecretLen {
				return nil, invalid(at+".headers."+k+" must be a single line of at most 8192 characters", "body", "otel", idx, "headers", k)
			}
		}
		if b.Authorization != nil {
			e.Authorization = *b.Authorization
		}
		if b.ContentType != nil {
			switch *b.ContentType {
			case OTelJSON, OTelProtobuf:
				e.ContentType = *b.ContentType
			default:
				return nil, invalid(at+".content_type must be one of json, protobuf", "body", "otel", idx, "content_type")
			}
		}
		out = append(out, e)
	}
	if len(out) == 0 {
		return nil, nil
	}
	return out, nil
}

// headerName: an HTTP token (RFC 9110), at most 256 characters.
func headerName(s string) bool {
	if s == "" || len(s) > 256 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0 {
			continue
		}
		return false
	}
	return true
}

func otelError(raw []byte) *Error {
	_, err := ParseOTel(raw)
	return err
}

// OTelSecret is the value of the stored secret an exporter's authorization names, in
// clear, for the export request only; false when the secret is gone or cannot be read.
func (s *Snapshot) OTelSecret(acct, secretID string) (string, bool) {
	k := s.secretFor(acct, secretID)
	if k == nil || k.Secret() == "" {
		return "", false
	}
	return k.Secret(), true
}

// OTelExporters lists the exporters of every gateway that has some, by "acct/gw". A setting
// that does not parse (it was validated when written) counts as none.
func (s *Snapshot) OTelExporters() map[string][]OTelExporter {
	out := map[string][]OTelExporter{}
	for key, g := range s.gateways {
		if !setRaw(g.Otel) {
			continue
		}
		if exps, err := ParseOTel(g.Otel); err == nil && len(exps) > 0 {
			out[key] = exps
		}
	}
	return out
}

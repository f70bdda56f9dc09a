// bedrock.go is a mock of Amazon Bedrock Runtime's Converse API
// (bedrock-runtime.{region}.amazonaws.com): POST /model/{modelId}/converse as JSON and
// /model/{modelId}/converse-stream as an AWS binary event stream, with SigV4 or Bedrock
// API key authentication.
package mock

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/protocol/eventstream"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// Bedrock credentials: a SigV4 key pair (scoped to service "bedrock" in one of
// BedrockRegions) or a Bedrock API key sent as "Authorization: Bearer <BedrockAPIKey>".
const (
	BedrockAccessKeyID = "AKIDMOCKBEDROCK"
	BedrockSecretKey   = "mock/bedrock/secret"
	BedrockAPIKey      = "ABSKmockbedrockapikey"
)

// BedrockRegions are the regions a SigV4 credential scope may name.
var BedrockRegions = []string{"us-east-1", "eu-west-1"}

// Bedrock token counts of every answer; totalTokens counts the cache reads too.
const (
	BedrockInputTokens     = 23
	BedrockOutputTokens    = 11
	BedrockCacheReadTokens = 5
	BedrockTotalTokens     = BedrockInputTokens + BedrockOutputTokens + BedrockCacheReadTokens
)

// Bedrock is the mock. Models "error-401" (403 AccessDeniedException), "error-404"
// (ResourceNotFoundException), "error-429" (ThrottlingException, Retry-After: 7) and
// "error-500" (InternalServerException) answer with Bedrock's errors; the rest follows the
// shared script (script.go) with stop reasons "end_turn", "tool_use", "max_tokens" and
// "content_filtered" (no content).
type Bedrock struct {
	*httptest.Server
	recorder
}

// NewBedrock starts the mock.
func NewBedrock() *Bedrock {
	m := &Bedrock{}
	m.Server = httptest.NewServer(http.HandlerFunc(m.serve))
	return m
}

func bedrockError(w http.ResponseWriter, status int, typ, msg string) {
	w.Header().Set("x-amzn-ErrorType", typ)
	w.Header().Set("x-amzn-RequestId", "7d0b6c1e-3f5a-4c2e-9b8d-mock00000001")
	writeJSON(w, status, map[string]any{"message": msg})
}

func (m *Bedrock) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	m.record(r, body)
	segs := strings.Split(r.URL.EscapedPath(), "/")
	if r.Method != http.MethodPost || len(segs) != 4 || segs[0] != "" || segs[1] != "model" || (segs[3] != "converse" && segs[3] != "converse-stream") {
		bedrockError(w, 404, "UnknownOperationException", "Unknown operation")
		return
	}
	model, err := url.PathUnescape(segs[2])
	if err != nil || model == "" {
		bedrockError(w, 400, "ValidationException", "The provided model identifier is invalid.")
		return
	}
	if status, typ, msg := m.authenticate(r, body); status != 0 {
		bedrockError(w, status, typ, msg)
		return
	}
	m.converse(w, body, model, segs[3] == "converse-stream")
}

// authenticate checks a Bedrock API key or recomputes the request's SigV4 signature.
func (m *Bedrock) authenticate(r *http.Request, body []byte) (status int, typ, msg string) {
	const badSig = "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method."
	authz := r.Header.Get("Authorization")
	if key, ok := strings.CutPrefix(authz, "Bearer "); ok {
		if key != BedrockAPIKey {
			return 403, "UnrecognizedClientException", "The security token included in the request is invalid."
		}
		return 0, "", ""
	}
	rest, ok := strings.CutPrefix(authz, "AWS4-HMAC-SHA256 ")
	if !ok {
		return 403, "InvalidSignatureException", badSig
	}
	fields := map[string]string{}
	for _, f := range strings.Split(rest, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(f), "=")
		fields[k] = v
	}
	scope := strings.Split(fields["Credential"], "/")
	if len(scope) != 5 || scope[4] != "aws4_request" || fields["SignedHeaders"] == "" || fields["Signature"] == "" {
		return 403, "InvalidSignatureException", badSig
	}
	if scope[0] != BedrockAccessKeyID {
		return 403, "UnrecognizedClientException", "The security token included in the request is invalid."
	}
	if !slices.Contains(BedrockRegions, scope[2]) {
		return 403, "InvalidSignatureException", fmt.Sprintf("Credential should be scoped to a valid region, not '%s'. ", scope[2])
	}
	if scope[3] != "bedrock" {
		return 403, "InvalidSignatureException", "Credential should be scoped to correct service: 'bedrock'. "
	}
	amzDate := r.Header.Get("X-Amz-Date")
	t, err := time.Parse("20060102T150405Z", amzDate)
	if err != nil || !strings.HasPrefix(amzDate, scope[1]) {
		return 403, "InvalidSignatureException", badSig
	}
	if d := time.Since(t); d > 5*time.Minute || d < -5*time.Minute {
		return 403, "InvalidSignatureException", fmt.Sprintf("Signature expired: %s is now earlier than %s (%s - 5 min.)",
			amzDate, time.Now().UTC().Add(-5*time.Minute).Format("20060102T150405Z"), time.Now().UTC().Format("20060102T150405Z"))
	}
	// Sign a copy holding only what the client signed, and compare.
	signed := strings.Split(fields["SignedHeaders"], ";")
	cp, err := http.NewRequest(r.Method, "http://"+r.Host+r.URL.RequestURI(), nil)
	if err != nil {
		return 403, "InvalidSignatureException", badSig
	}
	cp.Host = r.Host
	for _, h := range signed {
		switch h {
		case "host":
		case "content-length":
			cp.ContentLength = r.ContentLength
		default:
			if vs := r.Header.Values(h); len(vs) > 0 {
				cp.Header[http.CanonicalHeaderKey(h)] = vs
			}
		}
	}
	sum := sha256.Sum256(body)
	creds := aws.Credentials{AccessKeyID: BedrockAccessKeyID, SecretAccessKey: BedrockSecretKey}
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, cp, hex.EncodeToString(sum[:]), scope[3], scope[2], t); err != nil {
		return 403, "InvalidSignatureException", badSig
	}
	_, wantSig, _ := strings.Cut(cp.Header.Get("Authorization"), "Signature=")
	if !hmac.Equal([]byte(wantSig), []byte(fields["Signature"])) {
		return 403, "InvalidSignatureException", badSig
	}
	return 0, "", ""
}

type bedrockBlock struct {
	Text  *string `json:"text"`
	Image *struct {
		Format string `json:"format"`
		Source struct {
			Bytes      *string         `json:"bytes"`
			S3Location json.RawMessage `json:"s3Location"`
		} `json:"source"`
	} `json:"image"`
	ToolUse *struct {
		ToolUseID string          `json:"toolUseId"`
		Name      string          `json:"name"`
		Input     json.RawMessage `json:"input"`
	} `json:"toolUse"`
	ToolResult *struct {
		ToolUseID string `json:"toolUseId"`
		Content   []struct {
			Text *string         `json:"text"`
			JSON json.RawMessage `json:"json"`
		} `json:"content"`
		Status string `json:"status"`
	} `json:"toolResult"`
	Document         json.RawMessage `json:"document"`
	Video            json.RawMessage `json:"video"`
	ReasoningContent json.RawMessage `json:"reasoningContent"`
	CachePoint       json.RawMessage `json:"cachePoint"`
	GuardContent     json.RawMessage `json:"guardContent"`
}

func (b *bedrockBlock) members() int {
	n := 0
	for _, set := range []bool{b.Text != nil, b.Image != nil, b.ToolUse != nil, b.ToolResult != nil, b.Document != nil, b.Video != nil,
		b.ReasoningContent != nil, b.CachePoint != nil, b.GuardContent != nil} {
		if set {
			n++
		}
	}
	return n
}

type bedrockRequest struct {
	Messages []struct {
		Role    string         `json:"role"`
		Content []bedrockBlock `json:"content"`
	} `json:"messages"`
	System []struct {
		Text       *string         `json:"text"`
		CachePoint json.RawMessage `json:"cachePoint"`
	} `json:"system"`
	InferenceConfig *struct {
		MaxTokens     *int     `json:"maxTokens"`
		Temperature   *float64 `json:"temperature"`
		TopP          *float64 `json:"topP"`
		StopSequences []string `json:"stopSequences"`
	} `json:"inferenceConfig"`
	ToolConfig *struct {
		Tools []struct {
			ToolSpec *struct {
				Name        string `json:"name"`
				Description string `json:"description"`
				InputSchema struct {
					JSON json.RawMessage `json:"json"`
				} `json:"inputSchema"`
			} `json:"toolSpec"`
			CachePoint json.RawMessage `json:"cachePoint"`
		} `json:"tools"`
		ToolChoice *struct {
			Auto json.RawMessage `json:"auto"`
			Any  json.RawMessage `json:"any"`
			Tool *struct {
				Name string `json:"name"`
			} `json:"tool"`
		} `json:"toolChoice"`
	} `json:"toolConfig"`
}

// check validates the request as Bedrock does; it returns the ValidationException message.
func (req *bedrockRequest) check() string {
	if len(req.Messages) == 0 || req.Messages[0].Role != "user" {
		return "A conversation must start with a user message. Try again with a conversation that starts with a user message."
	}
	usesTools := false
	for i, msg := range req.Messages {
		if msg.Role != "user" && msg.Role != "assistant" {
			return fmt.Sprintf("1 validation error detected: Value '%s' at 'messages.%d.member.role' failed to satisfy constraint: Member must satisfy enum value set: [user, assistant]", msg.Role, i+1)
		}
		if len(msg.Content) == 0 {
			return fmt.Sprintf("The content field in the Message object at messages.%d is empty. Add a ContentBlock object to the content field and try again.", i)
		}
		for j, b := range msg.Content {
			if b.members() != 1 {
				return fmt.Sprintf("The ContentBlock object at messages.%d.content.%d must set one of the following keys: text, image, toolUse, toolResult, document, video.", i, j)
			}
			if img := b.Image; img != nil {
				if !slices.Contains([]string{"png", "jpeg", "gif", "webp"}, img.Format) {
					return fmt.Sprintf("1 validation error detected: Value '%s' at 'messages.%d.member.content.%d.member.image.format' failed to satisfy constraint: Member must satisfy enum value set: [gif, jpeg, png, webp]", img.Format, i+1, j+1)
				}
				if img.Source.Bytes == nil && img.Source.S3Location == nil {
					return fmt.Sprintf("The ImageSource object at messages.%d.content.%d.image.source must set one of the following keys: bytes, s3Location.", i, j)
				}
				if img.Source.Bytes != nil {
					if _, err := base64.StdEncoding.DecodeString(*img.Source.Bytes); err != nil {
						return "Malformed input request: image bytes are not valid base64, please reformat your input and try again."
					}
				}
			}
			if b.ToolUse != nil || b.ToolResult != nil {
				usesTools = true
			}
			if tr := b.ToolResult; tr != nil && tr.Status != "" && tr.Status != "success" && tr.Status != "error" {
				return fmt.Sprintf("1 validation error detected: Value '%s' at 'messages.%d.member.content.%d.member.toolResult.status' failed to satisfy constraint: Member must satisfy enum value set: [success, error]", tr.Status, i+1, j+1)
			}
		}
	}
	if usesTools && req.ToolConfig == nil {
		return "The toolConfig field must be defined when using toolUse and toolResult content blocks."
	}
	if ic := req.InferenceConfig; ic != nil && ic.MaxTokens != nil && *ic.MaxTokens < 1 {
		return "1 validation error detected: Value '0' at 'inferenceConfig.maxTokens' failed to satisfy constraint: Member must have value greater than or equal to 1"
	}
	if tc := req.ToolConfig; tc != nil {
		for i, t := range tc.Tools {
			if t.ToolSpec == nil && t.CachePoint == nil {
				return fmt.Sprintf("The Tool object at toolConfig.tools.%d must set one of the following keys: toolSpec, cachePoint.", i)
			}
			if t.ToolSpec != nil && (t.ToolSpec.Name == "" || len(t.ToolSpec.InputSchema.JSON) == 0) {
				return fmt.Sprintf("The toolSpec at toolConfig.tools.%d must have a name and an inputSchema with a json member.", i)
			}
		}
	}
	return ""
}

func (req *bedrockRequest) conversation(model string) conversation {
	c := conversation{model: model}
	if tc := req.ToolConfig; tc != nil {
		for _, t := range tc.Tools {
			if t.ToolSpec != nil {
				c.tools = append(c.tools, t.ToolSpec.Name)
			}
		}
		if tc.ToolChoice != nil && tc.ToolChoice.Tool != nil {
			c.forced = tc.ToolChoice.Tool.Name
		}
	}
	last := req.Messages[len(req.Messages)-1]
	if last.Role != "user" {
		return c
	}
	var text strings.Builder
	for _, b := range last.Content {
		switch {
		case b.ToolResult != nil:
			c.lastToolResult = true
			var sb strings.Builder
			for _, part := range b.ToolResult.Content {
				if part.Text != nil {
					sb.WriteString(*part.Text)
				} else if part.JSON != nil {
					sb.WriteString(compactJSON(part.JSON))
				}
			}
			c.toolText = compactText(sb.String())
		case b.Text != nil:
			text.WriteString(*b.Text)
		}
	}
	c.lastUser, c.lastText = !c.lastToolResult, text.String()
	return c
}

func (m *Bedrock) converse(w http.ResponseWriter, body []byte, model string, stream bool) {
	var req bedrockRequest
	if err := json.Unmarshal(body, &req); err != nil {
		bedrockError(w, 400, "ValidationException", "Malformed input request, please reformat your input and try again.")
		return
	}
	switch model {
	case "error-401":
		bedrockError(w, 403, "AccessDeniedException", "You don't have access to the model with the specified model ID.")
		return
	case "error-404":
		bedrockError(w, 404, "ResourceNotFoundException", "Model not found: error-404")
		return
	case "error-429":
		w.Header().Set("Retry-After", RetryAfter)
		bedrockError(w, 429, "ThrottlingException", "Too many requests, please wait before trying again.")
		return
	case "error-500":
		bedrockError(w, 500, "InternalServerException", "The system encountered an unexpected error during processing. Try your request again.")
		return
	}
	if e := req.check(); e != "" {
		bedrockError(w, 400, "ValidationException", e)
		return
	}
	ans := play(req.conversation(model))
	stopReason := map[stop]string{stopEnd: "end_turn", stopMaxTokens: "max_tokens", stopSafety: "content_filtered", stopToolUse: "tool_use"}[ans.stop]
	usage := map[string]any{"inputTokens": BedrockInputTokens, "outputTokens": BedrockOutputTokens, "totalTokens": BedrockTotalTokens,
		"cacheReadInputTokens": BedrockCacheReadTokens, "cacheWriteInputTokens": 0}
	metrics := map[string]any{"latencyMs": 12}
	w.Header().Set("x-amzn-RequestId", "7d0b6c1e-3f5a-4c2e-9b8d-mock00000001")
	if !stream {
		content := []any{}
		if ans.text != "" {
			content = append(content, map[string]any{"text": ans.text})
		}
		for _, tc := range ans.calls {
			content = append(content, map[string]any{"toolUse": map[string]any{"toolUseId": tc.ID, "name": tc.Name, "input": json.RawMessage(tc.Args)}})
		}
		writeJSON(w, 200, map[string]any{"output": map[string]any{"message": map[string]any{"role": "assistant", "content": content}},
			"stopReason": stopReason, "usage": usage, "metrics": metrics})
		return
	}
	w.Header().Set("Content-Type", "application/vnd.amazon.eventstream")
	w.WriteHeader(200)
	fl := w.(http.Flusher)
	enc := eventstream.NewEncoder()
	event := func(typ string, payload map[string]any) {
		payload["p"] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJ"[:4+len(typ)] // Bedrock pads events to hide their size
		b, _ := json.Marshal(payload)
		var hs eventstream.Headers
		hs.Set(":event-type", eventstream.StringValue(typ))
		hs.Set(":content-type", eventstream.StringValue("application/json"))
		hs.Set(":message-type", eventstream.StringValue("event"))
		enc.Encode(w, eventstream.Message{Headers: hs, Payload: b})
		fl.Flush()
	}
	event("messageStart", map[string]any{"role": "assistant"})
	index := 0
	if ans.text != "" {
		for _, word := range words(ans.text) {
			event("contentBlockDelta", map[string]any{"contentBlockIndex": index, "delta": map[string]any{"text": word}})
		}
		event("contentBlockStop", map[string]any{"contentBlockIndex": index})
		index++
	}
	for _, tc := range ans.calls {
		event("contentBlockStart", map[string]any{"contentBlockIndex": index, "start": map[string]any{"toolUse": map[string]any{"toolUseId": tc.ID, "name": tc.Name}}})
		for _, frag := range fragments(tc.Args) {
			event("contentBlockDelta", map[string]any{"contentBlockIndex": index, "delta": map[string]any{"toolUse": map[string]any{"input": frag}}})
		}
		event("contentBlockStop", map[string]any{"contentBlockIndex": index})
		index++
	}
	event("messageStop", map[string]any{"stopReason": stopReason})
	event("metadata", map[string]any{"usage": usage, "metrics": metrics})
}

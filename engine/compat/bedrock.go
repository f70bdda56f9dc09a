// bedrock.go translates the unified API to Amazon Bedrock's Converse and ConverseStream
// APIs and back. Streams arrive in AWS event-stream binary framing, read with the AWS
// SDK's eventstream decoder; requests are signed with the SDK's SigV4 signer.
package compat

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/protocol/eventstream"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	json "github.com/goccy/go-json"
	"github.com/tidwall/gjson"
)

// BedrockDefaultRegion is the region when neither the model nor the credentials name one.
const BedrockDefaultRegion = "us-east-1"

type bedrock struct{}

var bedrockParams = set("tools", "tool_choice", "parallel_tool_calls", "temperature", "top_p", "max_tokens", "max_completion_tokens", "stop")

type bedrockRequest struct {
	Messages        []bedrockMessage   `json:"messages"`
	System          []bedrockBlock     `json:"system,omitempty"`
	InferenceConfig *bedrockInference  `json:"inferenceConfig,omitempty"`
	ToolConfig      *bedrockToolConfig `json:"toolConfig,omitempty"`
}

type bedrockMessage struct {
	Role    string         `json:"role"`
	Content []bedrockBlock `json:"content"`
}

type bedrockBlock struct {
	Text       string             `json:"text,omitempty"`
	Image      *bedrockImage      `json:"image,omitempty"`
	ToolUse    *bedrockToolUse    `json:"toolUse,omitempty"`
	ToolResult *bedrockToolResult `json:"toolResult,omitempty"`
}

type bedrockImage struct {
	Format string `json:"format"`
	Source struct {
		Bytes string `json:"bytes"`
	} `json:"source"`
}

type bedrockToolUse struct {
	ToolUseID string          `json:"toolUseId"`
	Name      string          `json:"name"`
	Input     json.RawMessage `json:"input"`
}

type bedrockToolResult struct {
	ToolUseID string              `json:"toolUseId"`
	Content   []bedrockResultPart `json:"content"`
}

type bedrockResultPart struct {
	Text string `json:"text"`
}

type bedrockInference struct {
	MaxTokens     *int64   `json:"maxTokens,omitempty"`
	Temperature   *float64 `json:"temperature,omitempty"`
	TopP          *float64 `json:"topP,omitempty"`
	StopSequences []string `json:"stopSequences,omitempty"`
}

type bedrockToolConfig struct {
	Tools      []bedrockTool      `json:"tools"`
	ToolChoice *bedrockToolChoice `json:"toolChoice,omitempty"`
}

type bedrockTool struct {
	ToolSpec struct {
		Name        string `json:"name"`
		Description string `json:"description,omitempty"`
		InputSchema struct {
			JSON json.RawMessage `json:"json"`
		} `json:"inputSchema"`
	} `json:"toolSpec"`
}

type bedrockToolChoice struct {
	Auto *struct{}    `json:"auto,omitempty"`
	Any  *struct{}    `json:"any,omitempty"`
	Tool *bedrockName `json:"tool,omitempty"`
}

type bedrockName struct {
	Name string `json:"name"`
}

// bedrockImageFormats are the image types Converse takes.
var bedrockImageFormats = map[string]string{"image/png": "png", "image/jpeg": "jpeg", "image/jpg": "jpeg", "image/gif": "gif", "image/webp": "webp"}

func (bedrock) request(c *Call, r *ChatRequest) ([]byte, *Error) {
	if err := r.checkFields("aws-bedrock", bedrockParams); err != nil {
		return nil, err
	}
	if r.ParallelToolCalls != nil && !*r.ParallelToolCalls {
		return nil, unsupported("parallel_tool_calls", "aws-bedrock", "Converse cannot be kept to one call per turn")
	}
	var out bedrockRequest
	usedTools := false
	for i := range r.Messages {
		m := &r.Messages[i]
		switch m.Role {
		case "system", "developer":
			for _, p := range m.Parts {
				if p.Text != "" {
					out.System = append(out.System, bedrockBlock{Text: p.Text})
				}
			}
			continue
		case "tool":
			usedTools = true
			out.Messages = appendBedrock(out.Messages, "user", bedrockBlock{ToolResult: &bedrockToolResult{ToolUseID: m.ToolCallID,
				Content: []bedrockResultPart{{Text: m.Text()}}}})
			continue
		}
		var blocks []bedrockBlock
		for j, p := range m.Parts {
			switch p.Type {
			case "text":
				if p.Text != "" {
					blocks = append(blocks, bedrockBlock{Text: p.Text})
				}
			case "image_url":
				param := fmt.Sprintf("messages[%d].content[%d].image_url.url", i, j)
				mt, data, ok := dataURL(p.ImageURL.URL)
				if !ok {
					return nil, unsupported(param, "aws-bedrock", "Converse takes image bytes only; send the image as a data:image/...;base64 URL")
				}
				format, ok := bedrockImageFormats[mt]
				if !ok {
					return nil, unsupported(param, "aws-bedrock", "image type "+mt+" (png, jpeg, gif and webp are)")
				}
				img := &bedrockImage{Format: format}
				img.Source.Bytes = data
				blocks = append(blocks, bedrockBlock{Image: img})
			}
		}
		for j, tc := range m.ToolCalls {
			usedTools = true
			input, err := rawOrObject(tc.Function.Arguments, fmt.Sprintf("messages[%d].tool_calls[%d].function.arguments", i, j))
			if err != nil {
				return nil, err
			}
			blocks = append(blocks, bedrockBlock{ToolUse: &bedrockToolUse{ToolUseID: tc.ID, Name: tc.Function.Name, Input: input}})
		}
		if len(blocks) > 0 {
			out.Messages = appendBedrock(out.Messages, m.Role, blocks...)
		}
	}
	if len(out.Messages) == 0 {
		return nil, invalid("messages", "aws-bedrock needs at least one user or assistant message with content")
	}
	tc, err := r.toolChoice()
	if err != nil {
		return nil, err
	}
	if len(r.Tools) > 0 && tc.Mode != "none" {
		cfg := &bedrockToolConfig{}
		for _, t := range r.Tools {
			var bt bedrockTool
			bt.ToolSpec.Name, bt.ToolSpec.Description = t.Function.Name, t.Function.Description
			bt.ToolSpec.InputSchema.JSON = t.Function.Parameters
			if len(bt.ToolSpec.InputSchema.JSON) == 0 {
				bt.ToolSpec.InputSchema.JSON = json.RawMessage(`{"type":"object","properties":{}}`)
			}
			cfg.Tools = append(cfg.Tools, bt)
		}
		switch tc.Mode {
		case "auto":
			cfg.ToolChoice = &bedrockToolChoice{Auto: &struct{}{}}
		case "required":
			cfg.ToolChoice = &bedrockToolChoice{Any: &struct{}{}}
		case "function":
			cfg.ToolChoice = &bedrockToolChoice{Tool: &bedrockName{Name: tc.Name}}
		}
		out.ToolConfig = cfg
	} else if tc.Mode == "none" && len(r.Tools) > 0 && usedTools {
		return nil, unsupported("tool_choice", "aws-bedrock", `"none" cannot be honoured once the conversation holds tool calls (Converse needs the tools declared then)`)
	}
	inf := bedrockInference{MaxTokens: r.maxTokens(), Temperature: r.Temperature, TopP: r.TopP, StopSequences: r.Stop}
	if inf.MaxTokens != nil || inf.Temperature != nil || inf.TopP != nil || len(inf.StopSequences) > 0 {
		out.InferenceConfig = &inf
	}
	b, _ := json.Marshal(out)
	return b, nil
}

func appendBedrock(msgs []bedrockMessage, role string, blocks ...bedrockBlock) []bedrockMessage {
	if n := len(msgs); n > 0 && msgs[n-1].Role == role {
		msgs[n-1].Content = append(msgs[n-1].Content, blocks...)
		return msgs
	}
	return append(msgs, bedrockMessage{Role: role, Content: blocks})
}

// bedrockFinish maps stopReason.
func bedrockFinish(r string) string {
	switch r {
	case "max_tokens", "model_context_window_exceeded":
		return "length"
	case "tool_use":
		return "tool_calls"
	case "guardrail_intervened", "content_filtered":
		return "content_filter"
	default:
		return "stop"
	}
}

// bedrockUsage reads usage: prompt tokens include cache reads and writes.
func bedrockUsage(u gjson.Result) *Usage {
	if !u.IsObject() {
		return nil
	}
	return cachedUsage(u.Get("inputTokens").Int(), u.Get("cacheReadInputTokens").Int(), u.Get("cacheWriteInputTokens").Int(),
		u.Get("outputTokens").Int(), u.Get("cacheReadInputTokens").Exists())
}

func (bedrock) response(c *Call, body []byte) (*Completion, error) {
	doc := gjson.ParseBytes(body)
	if !doc.Get("output").IsObject() {
		return nil, errors.New("not a Converse response")
	}
	var text strings.Builder
	var calls []ToolCall
	for _, b := range doc.Get("output.message.content").Array() {
		if tu := b.Get("toolUse"); tu.Exists() {
			calls = append(calls, ToolCall{ID: tu.Get("toolUseId").String(), Type: "function",
				Function: FunctionCall{Name: tu.Get("name").String(), Arguments: compact(json.RawMessage(tu.Get("input").Raw))}})
		} else {
			text.WriteString(b.Get("text").String())
		}
	}
	msg := assistantMessage(text.String(), calls)
	return &Completion{ID: c.ID, Model: c.Model, Usage: bedrockUsage(doc.Get("usage")),
		Choices: []Choice{{Message: msg, FinishReason: bedrockFinish(doc.Get("stopReason").String())}}}, nil
}

func (bedrock) errorDetail(body []byte) (string, string, string) {
	doc := gjson.ParseBytes(body)
	m := doc.Get("message")
	if !m.Exists() {
		m = doc.Get("Message")
	}
	return m.String(), "", ""
}

func (bedrock) decoder() streamDecoder { return &bedrockStream{dec: eventstream.NewDecoder()} }

// bedrockStream reads ConverseStream's event-stream messages.
type bedrockStream struct {
	dec *eventstream.Decoder
	buf []byte
}

func (b *bedrockStream) feed(p []byte, s *Stream) error {
	b.buf = append(b.buf, p...)
	for len(b.buf) >= 4 {
		total := int(binary.BigEndian.Uint32(b.buf[:4]))
		if total > maxFrame || total < 16 {
			return errors.New("event-stream message length out of range")
		}
		if len(b.buf) < total {
			return nil
		}
		msg, err := b.dec.Decode(bytes.NewReader(b.buf[:total]), nil)
		if err != nil {
			return err
		}
		b.event(msg, s)
		b.buf = b.buf[total:]
	}
	return nil
}

func (b *bedrockStream) end(s *Stream) {
	if len(b.buf) > 0 {
		s.fail(502, "api_error", "aws-bedrock stream ended inside an event")
	}
}

func header(m eventstream.Message, name string) string {
	if v := m.Headers.Get(name); v != nil {
		return v.String()
	}
	return ""
}

func (b *bedrockStream) event(m eventstream.Message, s *Stream) {
	if mt := header(m, ":message-type"); mt == "exception" || mt == "error" {
		kind := header(m, ":exception-type")
		if kind == "" {
			kind = header(m, ":error-code")
		}
		s.fail(502, "api_error", "aws-bedrock "+kind+": "+gjson.GetBytes(m.Payload, "message").String())
		return
	}
	doc := gjson.ParseBytes(m.Payload)
	idx := int(doc.Get("contentBlockIndex").Int())
	switch header(m, ":event-type") {
	case "messageStart":
		s.role(0)
	case "contentBlockStart":
		if tu := doc.Get("start.toolUse"); tu.Exists() {
			s.toolStart(0, idx, tu.Get("toolUseId").String(), tu.Get("name").String())
		}
	case "contentBlockDelta":
		if t := doc.Get("delta.text"); t.Exists() {
			s.content(0, t.String())
		} else if in := doc.Get("delta.toolUse.input"); in.Exists() {
			s.toolArgs(0, idx, in.String())
		}
	case "messageStop":
		s.finish(0, bedrockFinish(doc.Get("stopReason").String()))
		s.ended = true
	case "metadata":
		if u := bedrockUsage(doc.Get("usage")); u != nil {
			s.setUsage(u)
		}
	}
}

// bedrockRegion matches AWS region names.
var bedrockRegion = regexp.MustCompile(`^[a-z]{2}(-gov|-iso[a-z]*)?-[a-z]+-[0-9]$`)

// bedrockCredentials reads the key: "ACCESS_KEY_ID:SECRET_ACCESS_KEY[:REGION[:SESSION_TOKEN]]"
// signs each request with SigV4; any other value is a Bedrock API key sent as a bearer
// token. The model may start with a region: "aws-bedrock/us-west-2/{model}".
func bedrockCredentials(c *Call, cred Credential) *Error {
	region := ""
	if r, m, ok := strings.Cut(c.Model, "/"); ok && bedrockRegion.MatchString(r) {
		region, c.Model = r, m
	}
	parts := strings.SplitN(cred.Key, ":", 4)
	switch {
	case cred.Key == "":
	case len(parts) >= 2 && strings.HasPrefix(parts[0], "A") && !strings.ContainsAny(parts[0], " /"):
		creds := aws.Credentials{AccessKeyID: parts[0], SecretAccessKey: parts[1]}
		if len(parts) >= 3 && parts[2] != "" {
			if !bedrockRegion.MatchString(parts[2]) {
				return &Error{Status: 400, Type: "invalid_request_error", Code: "invalid_credentials",
					Message: "aws-bedrock credentials are ACCESS_KEY_ID:SECRET_ACCESS_KEY[:REGION[:SESSION_TOKEN]]; the region part is not an AWS region"}
			}
			if region == "" {
				region = parts[2]
			}
		}
		if len(parts) == 4 {
			creds.SessionToken = parts[3]
		}
		c.Signer = &sigV4{creds: creds}
	default:
		c.Headers = append(c.Headers, Header{"Authorization", "Bearer " + cred.Key})
	}
	if region == "" {
		region = BedrockDefaultRegion
	}
	c.region = region
	if s, ok := c.Signer.(*sigV4); ok {
		s.region = region
	}
	return nil
}

// sigV4 signs a Bedrock request with the AWS SDK's signer.
type sigV4 struct {
	creds  aws.Credentials
	region string
	signer *v4.Signer
	clock  func() time.Time
}

func (s *sigV4) Sign(method, url string, body []byte) ([]Header, error) {
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(body)
	signer, clock := s.signer, s.clock
	if signer == nil {
		signer = v4.NewSigner()
	}
	if clock == nil {
		clock = time.Now
	}
	if err := signer.SignHTTP(context.Background(), s.creds, req, hex.EncodeToString(sum[:]), "bedrock", s.region, clock()); err != nil {
		return nil, err
	}
	out := []Header{{"Authorization", req.Header.Get("Authorization")}, {"X-Amz-Date", req.Header.Get("X-Amz-Date")}}
	if t := req.Header.Get("X-Amz-Security-Token"); t != "" {
		out = append(out, Header{"X-Amz-Security-Token", t})
	}
	return out, nil
}

// openai_test.go drives the gateway with the official OpenAI Go SDK: chat completions,
// responses and embeddings, streamed and not, and checks the log records' token counts.
package e2e

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/cloudflare/cloudflare-go/v7"
	"github.com/cloudflare/cloudflare-go/v7/ai_gateway"
	"github.com/cloudflare/cloudflare-go/v7/shared"
	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/responses"
	"github.com/switchyard/switchyard/mock"
)

func openaiClient(g *Gateway, captured *http.Header) openai.Client {
	opts := []option.RequestOption{option.WithBaseURL(g.Base("openai")), option.WithAPIKey("sk-test-key"), option.WithMaxRetries(0)}
	if captured != nil {
		opts = append(opts, option.WithMiddleware(func(r *http.Request, next option.MiddlewareNext) (*http.Response, error) {
			resp, err := next(r)
			if err == nil {
				*captured = resp.Header.Clone()
			}
			return resp, err
		}))
	}
	return openai.NewClient(opts...)
}

func TestOpenAIChat(t *testing.T) {
	up := mock.NewOpenAI()
	defer up.Close()
	g := startGateway(t, "", []string{"SWITCHYARD_UPSTREAM_OPENAI=" + up.URL})
	var hdr http.Header
	c := openaiClient(g, &hdr)
	ctx := context.Background()

	comp, err := c.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{
		Model:    "gpt-4o-mini",
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Say hello")},
	})
	if err != nil {
		t.Fatal(err)
	}
	if comp.Choices[0].Message.Content != mock.Answer || comp.Usage.PromptTokens != mock.PromptTokens {
		t.Fatalf("answer not passed through: %+v", comp)
	}
	for _, h := range []string{"cf-aig-log-id", "cf-aig-event-id", "cf-aig-step", "cf-aig-provider", "cf-aig-model", "x-request-id"} {
		if hdr.Get(h) == "" {
			t.Errorf("response header %s missing", h)
		}
	}
	if hdr.Get("cf-aig-model") != "gpt-4o-mini" || hdr.Get("cf-aig-provider") != "openai" || hdr.Get("cf-aig-step") != "0" {
		t.Errorf("cf-aig headers wrong: %v", hdr)
	}
	seen := up.Requests()[0]
	if seen.Header.Get("Authorization") != "Bearer sk-test-key" {
		t.Errorf("provider key not forwarded")
	}
	l := g.WaitLog(hdr.Get("cf-aig-log-id"))
	if l.Provider != "openai" || l.Model != "gpt-4o-mini" || !l.Success || l.StatusCode != 200 ||
		l.TokensIn != mock.PromptTokens || l.TokensOut != mock.CompletionTokens || l.Path != "/openai/chat/completions" {
		t.Fatalf("log record wrong: %s", l.JSON.RawJSON())
	}
	// The hosted client finds the record by the event id the response carried.
	page, err := g.API().AIGateway.Logs.List(ctx, gateway, ai_gateway.LogListParams{AccountID: cloudflare.F(account),
		Filters: cloudflare.F([]ai_gateway.LogListParamsFilter{{Key: cloudflare.F(ai_gateway.LogListParamsFiltersKeyEventID),
			Operator: cloudflare.F(ai_gateway.LogListParamsFiltersOperatorEq),
			Value:    cloudflare.F([]ai_gateway.LogListParamsFiltersValueUnion{shared.UnionString(hdr.Get("cf-aig-event-id"))})}})})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Result) != 1 || page.Result[0].ID != hdr.Get("cf-aig-log-id") {
		t.Fatalf("logs with event_id %s: %+v", hdr.Get("cf-aig-event-id"), page.Result)
	}
}

func TestOpenAIChatStream(t *testing.T) {
	up := mock.NewOpenAI()
	defer up.Close()
	g := startGateway(t, "", []string{"SWITCHYARD_UPSTREAM_OPENAI=" + up.URL})
	var hdr http.Header
	c := openaiClient(g, &hdr)
	stream := c.Chat.Completions.NewStreaming(context.Background(), openai.ChatCompletionNewParams{
		Model:         "gpt-4o-mini",
		Messages:      []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Say hello")},
		StreamOptions: openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)},
	})
	var acc openai.ChatCompletionAccumulator
	for stream.Next() {
		acc.AddChunk(stream.Current())
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	if acc.Choices[0].Message.Content != mock.Answer || acc.Usage.CompletionTokens != mock.CompletionTokens {
		t.Fatalf("stream not relayed: %q %+v", acc.Choices[0].Message.Content, acc.Usage)
	}
	l := g.WaitLog(hdr.Get("cf-aig-log-id"))
	if !l.Success || l.TokensIn != mock.PromptTokens || l.TokensOut != mock.CompletionTokens ||
		!strings.HasPrefix(l.ResponseContentType, "text/event-stream") {
		t.Fatalf("stream log wrong: %s", l.JSON.RawJSON())
	}
}

func TestOpenAIResponsesAndEmbeddings(t *testing.T) {
	up := mock.NewOpenAI()
	defer up.Close()
	g := startGateway(t, "", []string{"SWITCHYARD_UPSTREAM_OPENAI=" + up.URL})
	var hdr http.Header
	c := openaiClient(g, &hdr)
	ctx := context.Background()

	r, err := c.Responses.New(ctx, responses.ResponseNewParams{Model: "gpt-4o-mini", Input: responses.ResponseNewParamsInputUnion{OfString: openai.String("hi")}})
	if err != nil {
		t.Fatal(err)
	}
	if r.OutputText() != mock.Answer {
		t.Fatalf("responses answer %q", r.OutputText())
	}
	l := g.WaitLog(hdr.Get("cf-aig-log-id"))
	if l.TokensIn != mock.PromptTokens || l.TokensOut != mock.CompletionTokens {
		t.Fatalf("responses log: %s", l.JSON.RawJSON())
	}

	st := c.Responses.NewStreaming(ctx, responses.ResponseNewParams{Model: "gpt-4o-mini", Input: responses.ResponseNewParamsInputUnion{OfString: openai.String("hi")}})
	var text strings.Builder
	for st.Next() {
		if ev := st.Current(); ev.Type == "response.output_text.delta" {
			text.WriteString(ev.Delta)
		}
	}
	if err := st.Err(); err != nil || text.String() != mock.Answer {
		t.Fatalf("responses stream: %v %q", err, text.String())
	}
	l = g.WaitLog(hdr.Get("cf-aig-log-id"))
	if l.TokensIn != mock.PromptTokens || l.TokensOut != mock.CompletionTokens {
		t.Fatalf("responses stream log: %s", l.JSON.RawJSON())
	}

	e, err := c.Embeddings.New(ctx, openai.EmbeddingNewParams{Model: "text-embedding-3-small", Input: openai.EmbeddingNewParamsInputUnion{OfString: openai.String("hi")}})
	if err != nil {
		t.Fatal(err)
	}
	if len(e.Data) != 1 || len(e.Data[0].Embedding) != 3 {
		t.Fatalf("embedding: %+v", e)
	}
	l = g.WaitLog(hdr.Get("cf-aig-log-id"))
	if l.TokensIn != 8 || l.Model != "text-embedding-3-small" {
		t.Fatalf("embeddings log: %s", l.JSON.RawJSON())
	}
}

func TestOpenAIErrorsPassThrough(t *testing.T) {
	up := mock.NewOpenAI()
	defer up.Close()
	g := startGateway(t, "", []string{"SWITCHYARD_UPSTREAM_OPENAI=" + up.URL})
	var hdr http.Header
	c := openaiClient(g, &hdr)
	for _, tc := range []struct {
		model  string
		status int
		code   string
	}{{"error-400", 400, "invalid_value"}, {"error-401", 401, "invalid_api_key"}, {"error-429", 429, "rate_limit_exceeded"}, {"error-500", 500, ""}} {
		_, err := c.Chat.Completions.New(context.Background(), openai.ChatCompletionNewParams{
			Model: tc.model, Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("x")}})
		var apiErr *openai.Error
		if !asError(err, &apiErr) || apiErr.StatusCode != tc.status || apiErr.Code != tc.code {
			t.Fatalf("%s: got %v", tc.model, err)
		}
		if tc.status == 429 && hdr.Get("Retry-After") != "20" {
			t.Errorf("Retry-After not passed through: %v", hdr)
		}
		l := g.WaitLog(hdr.Get("cf-aig-log-id"))
		if l.Success || l.StatusCode != int64(tc.status) {
			t.Fatalf("%s log: %s", tc.model, l.JSON.RawJSON())
		}
	}
}

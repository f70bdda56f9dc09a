// anthropic_test.go drives the gateway with the official Anthropic Go SDK, JSON and SSE.
package e2e

import (
	"context"
	"net/http"
	"testing"

	"github.com/anthropics/anthropic-sdk-go"
	"github.com/anthropics/anthropic-sdk-go/option"
	"github.com/switchyard/switchyard/mock"
)

func TestAnthropicMessages(t *testing.T) {
	up := mock.NewAnthropic()
	defer up.Close()
	g := startGateway(t, "", []string{"SWITCHYARD_UPSTREAM_ANTHROPIC=" + up.URL})
	var hdr http.Header
	c := anthropic.NewClient(option.WithBaseURL(g.Base("anthropic")), option.WithAPIKey("sk-ant-test"), option.WithMaxRetries(0),
		option.WithMiddleware(func(r *http.Request, next option.MiddlewareNext) (*http.Response, error) {
			resp, err := next(r)
			if err == nil {
				hdr = resp.Header.Clone()
			}
			return resp, err
		}))
	ctx := context.Background()
	params := anthropic.MessageNewParams{
		Model:     "claude-sonnet-4-5",
		MaxTokens: 128,
		Messages:  []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("Say hello"))},
	}
	msg, err := c.Messages.New(ctx, params)
	if err != nil {
		t.Fatal(err)
	}
	if msg.Content[0].Text != mock.Answer || msg.Usage.InputTokens != mock.AnthropicInputTokens {
		t.Fatalf("message: %+v", msg)
	}
	seen := up.Requests()[0]
	if seen.Header.Get("x-api-key") != "sk-ant-test" || seen.Header.Get("anthropic-version") == "" {
		t.Fatalf("anthropic headers not forwarded: %v", seen.Header)
	}
	l := g.WaitLog(hdr.Get("cf-aig-log-id"))
	if l.Provider != "anthropic" || l.Model != "claude-sonnet-4-5" || l.Path != "/anthropic/v1/messages" ||
		l.TokensIn != mock.AnthropicInputTokens || l.TokensOut != mock.AnthropicOutputTokens {
		t.Fatalf("log: %s", l.JSON.RawJSON())
	}

	stream := c.Messages.NewStreaming(ctx, params)
	var acc anthropic.Message
	for stream.Next() {
		if err := acc.Accumulate(stream.Current()); err != nil {
			t.Fatal(err)
		}
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	if acc.Content[0].Text != mock.Answer || acc.StopReason != "end_turn" {
		t.Fatalf("stream: %+v", acc)
	}
	l = g.WaitLog(hdr.Get("cf-aig-log-id"))
	if !l.Success || l.TokensIn != mock.AnthropicInputTokens || l.TokensOut != mock.AnthropicOutputTokens {
		t.Fatalf("stream log: %s", l.JSON.RawJSON())
	}

	params.Model = "error-529"
	_, err = c.Messages.New(ctx, params)
	var apiErr *anthropic.Error
	if !asError(err, &apiErr) || apiErr.StatusCode != 529 {
		t.Fatalf("overloaded error not passed through: %v", err)
	}
}

// azure_test.go sends Azure OpenAI requests in every shape the reference and the official
// SDKs use (the reference's curl URL, the OpenAI client with the deployment in its base
// URL, the AzureOpenAI client's /deployments/… and openai-go's azure package) and checks
// that each reaches https://{resource}.openai.azure.com/openai/deployments/{deployment}/…
// with its api-version and api-key.
package e2e

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/azure"
	"github.com/openai/openai-go/v3/option"
)

func TestAzureOpenAIShapes(t *testing.T) {
	var mu sync.Mutex
	var seen []string
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.URL.Path+"?"+r.URL.RawQuery+" key="+r.Header.Get("api-key"))
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"id":"chatcmpl-az","object":"chat.completion","created":1,"model":"gpt-4o-mini","choices":[{"index":0,"message":{"role":"assistant","content":"hi from azure"},"finish_reason":"stop"}],"usage":{"prompt_tokens":3,"completion_tokens":2,"total_tokens":5}}`))
	}))
	defer up.Close()
	g := startGateway(t, "", []string{"SWITCHYARD_UPSTREAM_AZURE_OPENAI=" + up.URL}, "--allow-insecure-upstreams")
	base := g.Base("azure-openai")
	want := "/openai/deployments/my-deploy/chat/completions?api-version=2024-06-01 key=az-key"
	msgs := []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")}
	last := func(name string) {
		t.Helper()
		mu.Lock()
		defer mu.Unlock()
		if len(seen) == 0 || seen[len(seen)-1] != want {
			t.Fatalf("%s reached %q, want %q", name, seen, want)
		}
	}
	ctx := context.Background()

	// The reference's URL: /azure-openai/{resource}/{deployment}/chat/completions?api-version=…
	resp, body := send(t, base+"/my-resource/my-deploy/chat/completions?api-version=2024-06-01", chatBody("gpt-4o-mini", "hi", false),
		map[string]string{"api-key": "az-key", "Authorization": ""})
	if resp.StatusCode != 200 || !strings.Contains(string(body), "hi from azure") {
		t.Fatalf("reference URL: %d %s", resp.StatusCode, body)
	}
	last("the reference's URL")

	// The reference's OpenAI client with the deployment in the base URL.
	c := openai.NewClient(option.WithBaseURL(base+"/my-resource/my-deploy"), option.WithAPIKey("unused"), option.WithMaxRetries(0),
		option.WithHeader("api-key", "az-key"), option.WithQuery("api-version", "2024-06-01"))
	if _, err := c.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{Model: "gpt-4o-mini", Messages: msgs}); err != nil {
		t.Fatalf("OpenAI client, deployment in the base URL: %v", err)
	}
	last("the OpenAI client")

	// The AzureOpenAI client with baseURL …/azure-openai/{resource}/ sends /deployments/{deployment}/….
	resp, body = send(t, base+"/my-resource/deployments/my-deploy/chat/completions?api-version=2024-06-01", chatBody("gpt-4o-mini", "hi", false),
		map[string]string{"api-key": "az-key", "Authorization": ""})
	if resp.StatusCode != 200 {
		t.Fatalf("AzureOpenAI shape: %d %s", resp.StatusCode, body)
	}
	last("the AzureOpenAI client's shape")

	// openai-go's azure package: endpoint …/azure-openai/{resource}, deployment from the model.
	az := openai.NewClient(azure.WithEndpoint(base+"/my-resource", "2024-06-01"), azure.WithAPIKey("az-key"), azure.WithUnsafeAllowHTTP(), option.WithMaxRetries(0))
	got, err := az.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{Model: "my-deploy", Messages: msgs})
	if err != nil || got.Choices[0].Message.Content != "hi from azure" {
		t.Fatalf("openai-go azure client: %v %+v", err, got)
	}
	last("openai-go's azure package")
}

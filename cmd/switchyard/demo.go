// demo.go is `switchyard demo`: the gateway with built-in mock providers on loopback
// (OpenAI, Anthropic, Google AI Studio, Workers AI; the mocks of package mock, which the e2e
// tests use too), a `demo` gateway with logs on, and three things to copy: a curl command,
// an OpenAI SDK snippet and the logs URL. No key and no network needed.
package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/switchyard/switchyard/engine/providers"
	"github.com/switchyard/switchyard/mock"
)

// demoAccount and demoGateway name the account and gateway the demo creates.
const (
	demoAccount = "demo"
	demoGateway = "demo"
)

func demo(args []string) error {
	// The demo keeps its own data dir unless --data-dir says otherwise (a later flag wins).
	c, err := loadConfig("demo", append([]string{"--data-dir", "./switchyard-demo-data"}, args...))
	if err != nil {
		return err
	}
	openai, anthropic, gemini, workersAI := mock.NewOpenAI(), mock.NewAnthropic(), mock.NewGemini(), mock.NewGuard()
	defer openai.Close()
	defer anthropic.Close()
	defer gemini.Close()
	defer workersAI.Close()
	for slug, url := range map[string]string{"openai": openai.URL, "anthropic": anthropic.URL, "google-ai-studio": gemini.URL, "workers-ai": workersAI.URL} {
		os.Setenv(providers.EnvOverride(slug), url)
	}
	if c.DataDir, err = filepath.Abs(c.DataDir); err != nil { // the printed commands work from any directory
		return err
	}
	return runServer(c, func(url, token, tokenAt string) {
		api := &apiClient{base: url, baseFrom: "demo", token: token, account: demoAccount, out: os.Stdout}
		if err := api.call("GET", "/ai-gateway/gateways/"+demoGateway, nil, nil); err != nil {
			err = api.call("POST", "/ai-gateway/gateways", map[string]any{"id": demoGateway, "collect_logs": true,
				"cache_ttl": 0, "cache_invalidate_on_update": false, "rate_limiting_interval": 0, "rate_limiting_limit": 0}, nil)
			if err != nil {
				fmt.Fprintln(os.Stderr, "switchyard demo: creating the demo gateway:", err)
				return
			}
		}
		fmt.Print(demoBanner(url, tokenAt))
	})
}

// demoBanner is what the demo prints once it serves: commands that work from any directory.
// The admin token is never printed: the logs command reads it from where it is kept.
func demoBanner(url, tokenAt string) string {
	bearer := "$SWITCHYARD_ADMIN_TOKEN"
	if !strings.HasPrefix(tokenAt, "$") {
		bearer = "$(cat '" + tokenAt + "')"
	}
	base := url + "/v1/" + demoAccount + "/" + demoGateway
	var b strings.Builder
	fmt.Fprintf(&b, "\nDemo gateway ready. Providers are mocks on loopback (OpenAI, Anthropic, Google AI Studio, Workers AI):\n")
	fmt.Fprintf(&b, "no key and no network needed; every answer says it came from a mock.\n\n")
	fmt.Fprintf(&b, "1. Ask through the gateway:\n\n")
	fmt.Fprintf(&b, "curl %s/openai/chat/completions -H 'Content-Type: application/json' -H 'Authorization: Bearer sk-demo' -d '{\"model\":\"gpt-4o-mini\",\"messages\":[{\"role\":\"user\",\"content\":\"Hello\"}]}'\n\n", base)
	fmt.Fprintf(&b, "2. With the OpenAI SDK (Python):\n\n")
	fmt.Fprintf(&b, "from openai import OpenAI\nclient = OpenAI(base_url=%q, api_key=\"sk-demo\")\nprint(client.chat.completions.create(model=\"gpt-4o-mini\", messages=[{\"role\": \"user\", \"content\": \"Hello\"}]).choices[0].message.content)\n\n", base+"/openai")
	fmt.Fprintf(&b, "3. See the log record it produced:\n\n")
	fmt.Fprintf(&b, "curl %s/client/v4/accounts/%s/ai-gateway/gateways/%s/logs -H \"Authorization: Bearer %s\"\n\n", url, demoAccount, demoGateway, bearer)
	fmt.Fprintf(&b, "Try \"stream\":true for a streamed answer (add \"stream_options\":{\"include_usage\":true} for its usage), or the model \"error-429\" (also error-400, -401, -404, -500) for the provider's error.\n")
	fmt.Fprintf(&b, "Other providers: %s/anthropic/v1/messages, %s/google-ai-studio/v1beta/models/gemini-2.0-flash:generateContent, %s/workers-ai/@cf/meta/llama-3.1-8b-instruct\n", base, base, base)
	return b.String()
}

// route_test.go runs `switchyard route validate` and `route show` on temp files and
// stdin, checking their output and exit codes.
package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const validRouteFile = `{"id":"r1","name":"support","elements":[
	{"id":"start","type":"start","outputs":{"next":{"elementId":"cond1"}}},
	{"id":"cond1","type":"conditional","properties":{"condition":{"metadata.plan":{"$eq":"paid"}}},
	 "outputs":{"true":{"elementId":"m1"},"false":{"elementId":"m2"}}},
	{"id":"m1","type":"model","properties":{"provider":"openai","model":"gpt-4o-mini","timeout":5000,"retries":2},
	 "outputs":{"success":{"elementId":"end"},"fallback":{"elementId":"m2"}}},
	{"id":"m2","type":"model","properties":{"provider":"workers-ai","model":"llama"},"outputs":{"success":{"elementId":"end"}}},
	{"id":"end","type":"end"}]}`

const invalidRouteFile = `{"name":"broken","elements":[
	{"id":"start","type":"start","outputs":{"next":{"elementId":"m1"}}},
	{"id":"m1","type":"model","properties":{"model":"gpt-4o-mini"},"outputs":{"success":{"elementId":"ghost"}}},
	{"id":"rl","type":"rate_limit","properties":{"limitType":"requests","key":"metadata.user","limit":5,"interval":60,"technique":"fixed"},
	 "outputs":{"success":{"elementId":"end"}}},
	{"id":"end","type":"end"}]}`

func TestRouteCommand(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	valid := write("support.json", validRouteFile)
	invalid := write("broken.json", invalidRouteFile)
	bare := write("bare.json", `[{"id":"s","type":"start","outputs":{"next":{"elementId":"e"}}},{"id":"e","type":"end"}]`)
	unnamed := write("unnamed.json", `{"id":"r9","elements":[{"id":"s","type":"start","outputs":{"next":{"elementId":"e"}}},{"id":"e","type":"end"}]}`)
	garbage := write("garbage.json", `{"elements":[`)
	cases := []struct {
		name   string
		args   []string
		stdin  string
		code   int
		stdout string
		stderr string
	}{
		{"validate a valid route", []string{"validate", valid}, "", 0, "route support is valid (5 elements)\n", ""},
		{"validate a bare elements array", []string{"validate", bare}, "", 0, "route bare.json is valid (2 elements)\n", ""},
		{"validate a route without a name", []string{"validate", unnamed}, "", 0, "route r9 is valid (2 elements)\n", ""},
		{"validate stdin", []string{"validate", "-"}, validRouteFile, 0, "route support is valid (5 elements)\n", ""},
		{"validate an invalid route", []string{"validate", invalid}, "", 1, "",
			`element "start": no path from here reaches an end element` + "\n" +
				`element "m1": model needs a provider` + "\n" +
				`element "m1": output "success" leads to "ghost", which is not an element of the route` + "\n" +
				`element "rl": limitType "requests" is not "count" or "cost"` + "\n" +
				`element "rl": not reachable from the start element` + "\n" +
				`element "end": not reachable from the start element` + "\n"},
		{"validate JSON that does not parse", []string{"validate", garbage}, "", 1, "", "route is not valid JSON: unexpected end of JSON input\n"},
		{"validate a missing file", []string{"validate", filepath.Join(dir, "nope.json")}, "", 1, "", "switchyard route: open "},
		{"show a valid route", []string{"show", valid}, "", 0,
			"start -> next: cond1\n" +
				`cond1 conditional {"metadata.plan":{"$eq":"paid"}} -> true: m1, false: m2` + "\n" +
				"m1 model openai/gpt-4o-mini timeout 5s retries 2 -> success: end, fallback: m2\n" +
				"m2 model workers-ai/llama -> success: end\n" +
				"end\n", ""},
		{"show stdin", []string{"show", "-"}, `[{"id":"s","type":"start","outputs":{"next":{"elementId":"e"}}},{"id":"e","type":"end"}]`, 0, "s start -> next: e\ne end\n", ""},
		{"show an invalid route", []string{"show", invalid}, "", 1, "", `element "start": no path from here reaches an end element`},
		{"no arguments", nil, "", 2, "", "usage: switchyard route validate FILE"},
		{"unknown action", []string{"check", valid}, "", 2, "", "usage:"},
		{"no file", []string{"validate"}, "", 2, "", "usage:"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := routeCmd(tc.args, strings.NewReader(tc.stdin), &stdout, &stderr)
			if code != tc.code {
				t.Errorf("exit code %d, want %d (stderr %q)", code, tc.code, stderr.String())
			}
			if stdout.String() != tc.stdout {
				t.Errorf("stdout\n got %q\nwant %q", stdout.String(), tc.stdout)
			}
			if tc.stderr == "" && stderr.Len() > 0 || !strings.HasPrefix(stderr.String(), tc.stderr) {
				t.Errorf("stderr\n got %q\nwant it to start with %q", stderr.String(), tc.stderr)
			}
		})
	}
}

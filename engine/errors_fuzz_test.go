// errors_fuzz_test.go checks that the gateway error body is JSON whatever its message
// holds (messages echo client input). go test ./engine -run '^$' -fuzz '^FuzzGatewayErrorJSON$' -parallel 1.
package engine

import (
	"encoding/json"
	"testing"
)

// FuzzGatewayErrorJSON: the body is JSON and gives back the code and the message (invalid
// UTF-8 replaced).
func FuzzGatewayErrorJSON(f *testing.F) {
	for _, s := range []string{"unknown provider \x7f", "a \"quoted\" <b> & \\ value", "\x00\a\v\U0001F600\u2028\xff", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, msg string) {
		b := Errorf(400, CodeBadRequest, msg).JSON()
		var got struct {
			Success bool
			Errors  []struct {
				Code    int
				Message string
			}
		}
		if err := json.Unmarshal(b, &got); err != nil || len(got.Errors) != 1 || got.Errors[0].Code != CodeBadRequest {
			t.Fatalf("%q: body %s (%v)", msg, b, err)
		}
		if want := string([]rune(msg)); got.Errors[0].Message != want { // each invalid byte a U+FFFD
			t.Fatalf("%q came back as %q", msg, got.Errors[0].Message)
		}
	})
}

// auth_test.go checks what a stored google-vertex-ai key may be (NormalizeVertexKey) and
// how a provider-endpoint credential is read (VertexAuthorization) without an exchange.
package compat

import (
	"encoding/base64"
	"strings"
	"testing"
)

func TestNormalizeVertexKey(t *testing.T) {
	const sa = `{"type":"service_account","project_id":"p","private_key":"-----BEGIN PRIVATE KEY-----\nx\n-----END PRIVATE KEY-----\n","client_email":"a@p.iam.gserviceaccount.com","region":"us-central1"}`
	pretty := strings.NewReplacer(`{`, "{\n  ", `,"`, ",\n  \"").Replace(sa)
	for _, c := range []struct {
		name, secret, want, err string
	}{
		{"one line", sa, sa, ""},
		{"as downloaded, several lines", pretty, sa, ""},
		{"base64", base64.StdEncoding.EncodeToString([]byte(sa)), sa, ""},
		{"an access token", "ya29.token", "", "service account JSON"},
		{"another credential type", `{"type":"authorized_user","region":"us-central1"}`, "", "type service_account"},
		{"no region", strings.Replace(sa, `,"region":"us-central1"`, "", 1), "", `"region"`},
		{"a region that is not one", strings.Replace(sa, `us-central1`, `us/../x`, 1), "", `"region"`},
	} {
		got, err := NormalizeVertexKey(c.secret)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) || strings.Contains(err.Error(), "PRIVATE KEY") {
				t.Errorf("%s: error %v, want one mentioning %s and not the key", c.name, err, c.err)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("%s: %q %v, want %q", c.name, got, err, c.want)
		}
	}
}

func TestVertexAuthorizationWithoutExchange(t *testing.T) {
	var env *Env
	if v, exchanged, err := env.VertexAuthorization(" ya29.token "); err != nil || exchanged || v != "Bearer ya29.token" {
		t.Errorf("access token: %q %v %v", v, exchanged, err)
	}
	sa := base64.StdEncoding.EncodeToString([]byte(`{"type":"service_account","region":"r"}`))
	if _, exchanged, err := env.VertexAuthorization(sa); !exchanged || err == nil || err.Status != 401 {
		t.Errorf("service account without an exchanger: %v %v", exchanged, err)
	}
}

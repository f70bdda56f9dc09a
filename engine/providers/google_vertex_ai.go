// google_vertex_ai.go registers Vertex AI: /google-vertex-ai/v1/projects/{p}/locations/{region}/publishers/google/models/{m}:generateContent
// → https://{region}-aiplatform.googleapis.com/v1/projects/… (region "global" → aiplatform.googleapis.com);
// key as Authorization: Bearer <access token>; a service account JSON (the client's, base64, or
// a stored key) is exchanged for one by the front end (engine/server/access.go).
package providers

import "github.com/switchyard/switchyard/engine/usage"

func init() {
	Register(&Adapter{
		Slug:            "google-vertex-ai",
		BaseURL:         "https://{host}",
		AuthHeader:      "Authorization",
		ServiceAccounts: true,
		Usage:           usage.Google,
		Route: func(rest string) (Target, error) {
			// v1/projects/{project}/locations/{region}/...
			s := segments(rest, 6)
			if len(s) < 6 || s[1] != "projects" || s[3] != "locations" || !validHostPart(s[4]) {
				return Target{}, ErrBadPath
			}
			host := s[4] + "-aiplatform.googleapis.com"
			if s[4] == "global" {
				host = "aiplatform.googleapis.com"
			}
			return Target{
				Path:  rest,
				Fill:  map[string]string{"host": host},
				Model: modelAfter(s[5], "models/", ":/"),
			}, nil
		},
	})
}

// aws_bedrock.go registers Amazon Bedrock: /aws-bedrock/bedrock-runtime/{region}/model/{id}/invoke
// → https://bedrock-runtime.{region}.amazonaws.com/model/{id}/invoke. The client signs the
// request with SigV4 for the upstream URL; the gateway forwards the signed headers untouched.
package providers

import "github.com/switchyard/switchyard/engine/usage"

func init() {
	Register(&Adapter{
		Slug:         "aws-bedrock",
		BaseURL:      "https://{service}.{region}.amazonaws.com",
		AuthHeader:   "Authorization",
		NoStoredKeys: true,
		Usage:        usage.Bedrock,
		Route: func(rest string) (Target, error) {
			s := segments(rest, 3)
			if len(s) < 3 || !validHostPart(s[0]) || !validHostPart(s[1]) {
				return Target{}, ErrBadPath
			}
			return Target{
				Path:  "/" + s[2],
				Fill:  map[string]string{"service": s[0], "region": s[1]},
				Model: modelAfter(s[2], "model/", "/"),
			}, nil
		},
	})
}

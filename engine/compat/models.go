// models.go is the unified API's model list (GET .../compat/models): the catalog in
// models.json, in the OpenAI list shape, with the provider as owner.
package compat

import (
	_ "embed"
	"encoding/json"
	"strings"
)

//go:embed models.json
var catalogJSON []byte

// ModelInfo is one entry of the OpenAI model list.
type ModelInfo struct {
	ID      string `json:"id"`
	Object  string `json:"object"`
	Created int64  `json:"created"`
	OwnedBy string `json:"owned_by"`
}

// ModelList is the OpenAI list of models.
type ModelList struct {
	Object string      `json:"object"`
	Data   []ModelInfo `json:"data"`
}

var catalog = func() []ModelInfo {
	var file struct {
		Models []ModelInfo `json:"models"`
	}
	if err := json.Unmarshal(catalogJSON, &file); err != nil {
		panic("compat: models.json: " + err.Error())
	}
	for i := range file.Models {
		m := &file.Models[i]
		m.Object = "model"
		m.OwnedBy, _, _ = strings.Cut(m.ID, "/")
	}
	return file.Models
}()

// Models returns the model list.
func Models() ModelList {
	return ModelList{Object: "list", Data: append([]ModelInfo(nil), catalog...)}
}

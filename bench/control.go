// control.go talks to a switchyard under test outside the measured load: the control API
// calls that set the bench gateway up (the gateway, a dynamic route) and read its logs
// total, and single data-plane requests that check a target before it is measured.
package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"
)

// The account and gateway every switchyard target uses (see proxyPrefix), and the admin
// token the bench starts switchyard with.
const (
	benchAccount = "acct"
	benchGateway = "gw"
	adminToken   = "bench"
)

var apiClient = &http.Client{Timeout: 30 * time.Second}

// controlCall sends one control API request (path below /client/v4/accounts/{acct}) and
// returns the status and body.
func controlCall(base, method, path string, body any) (int, []byte, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, nil, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, base+"/client/v4/accounts/"+benchAccount+path, rd)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+adminToken)
	req.Header.Set("Content-Type", "application/json")
	resp, err := apiClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	return resp.StatusCode, out, err
}

// createGateway creates the bench gateway (authentication off) with extra settings. A new
// gateway collects logs unless told otherwise (storage/config newGateway), so {"id"} alone
// is enough.
func createGateway(base string, extra map[string]any) error {
	settings := map[string]any{"id": benchGateway}
	for k, v := range extra {
		settings[k] = v
	}
	status, body, err := controlCall(base, "POST", "/ai-gateway/gateways", settings)
	if err != nil {
		return fmt.Errorf("create gateway %s: %w", benchGateway, err)
	}
	if status != 200 && status != 409 {
		return fmt.Errorf("create gateway %s: HTTP %d: %.300s", benchGateway, status, body)
	}
	return nil
}

// createRoute creates (and so deploys) a dynamic route on the bench gateway whose graph
// is start -> one openai model -> end.
func createRoute(base, name, model string) error {
	next := func(id string) map[string]any { return map[string]any{"elementId": id} }
	elements := []map[string]any{
		{"id": "start", "type": "start", "outputs": map[string]any{"next": next("model")}},
		{"id": "model", "type": "model", "properties": map[string]any{"provider": "openai", "model": model, "timeout": 30000, "retries": 0},
			"outputs": map[string]any{"success": next("end")}},
		{"id": "end", "type": "end"},
	}
	status, body, err := controlCall(base, "POST", "/ai-gateway/gateways/"+benchGateway+"/routes", map[string]any{"name": name, "elements": elements})
	if err != nil {
		return fmt.Errorf("create route %s: %w", name, err)
	}
	if status != 200 {
		return fmt.Errorf("create route %s: HTTP %d: %.300s", name, status, body)
	}
	return nil
}

// logsTotal is the bench gateway's number of log records (result_info.total_count).
func logsTotal(base string) (int, error) {
	status, body, err := controlCall(base, "GET", "/ai-gateway/gateways/"+benchGateway+"/logs?per_page=1", nil)
	if err != nil {
		return 0, err
	}
	var env struct {
		ResultInfo struct {
			TotalCount       *int `json:"total_count"`
			TotalCountCapped bool `json:"total_count_capped"`
		} `json:"result_info"`
	}
	if err := json.Unmarshal(body, &env); err != nil || status != 200 || env.ResultInfo.TotalCount == nil {
		return 0, fmt.Errorf("logs: HTTP %d: %.300s", status, body)
	}
	if env.ResultInfo.TotalCountCapped {
		return 0, fmt.Errorf("logs: total_count %d is capped", *env.ResultInfo.TotalCount)
	}
	return *env.ResultInfo.TotalCount, nil
}

// probe sends one chat request the way the load does and returns the status, the
// answer's headers and the start of its body.
func probe(url string, body []byte, header [][2]string) (int, http.Header, string, error) {
	req, err := http.NewRequest("POST", url, bytes.NewReader(body))
	if err != nil {
		return 0, nil, "", err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer sk-bench-not-a-real-key")
	for _, h := range header {
		req.Header.Set(h[0], h[1])
	}
	resp, err := apiClient.Do(req)
	if err != nil {
		return 0, nil, "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if len(b) > 300 {
		b = b[:300]
	}
	return resp.StatusCode, resp.Header, string(b), nil
}

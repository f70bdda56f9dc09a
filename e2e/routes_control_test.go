// routes_control_test.go drives the dynamic routes control API with the hosted API's Go
// client (cloudflare-go v7 DynamicRouting) against the real binary: create (which deploys
// the first version), get, list, rename, versions, deployments and a rollback, an invalid
// route refused with the element named, a draft that cannot be deployed, the audit trail,
// a restart that keeps it all, and delete.
package e2e

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/cloudflare/cloudflare-go/v7"
	"github.com/cloudflare/cloudflare-go/v7/ai_gateway"
)

// hostedGraph is a route in the hosted client's element types: a count limit per user
// (spelt "rate", as cloudflare-go's enum has it) in front of model, with mini as fallback.
func hostedGraph(model string) []ai_gateway.DynamicRoutingNewParamsElementUnion {
	next := func(id string) map[string]any { return map[string]any{"elementId": id} }
	el := func(id string, typ ai_gateway.DynamicRoutingNewParamsElementsType, props any, outputs map[string]any) ai_gateway.DynamicRoutingNewParamsElement {
		e := ai_gateway.DynamicRoutingNewParamsElement{ID: cloudflare.F(id), Type: cloudflare.F(typ), Outputs: cloudflare.F[any](outputs)}
		if props != nil {
			e.Properties = cloudflare.F(props)
		}
		return e
	}
	return []ai_gateway.DynamicRoutingNewParamsElementUnion{
		el("start", ai_gateway.DynamicRoutingNewParamsElementsTypeStart, nil, map[string]any{"next": next("quota")}),
		el("quota", ai_gateway.DynamicRoutingNewParamsElementsTypeRate,
			map[string]any{"limitType": "count", "key": "metadata.user_id", "limit": 10, "interval": 600, "technique": "sliding"},
			map[string]any{"success": next("main"), "fallback": next("mini")}),
		el("main", ai_gateway.DynamicRoutingNewParamsElementsTypeModel,
			map[string]any{"provider": "openai", "model": model, "timeout": 30000, "retries": 1},
			map[string]any{"success": next("end"), "fallback": next("mini")}),
		el("mini", ai_gateway.DynamicRoutingNewParamsElementsTypeModel,
			map[string]any{"provider": "openai", "model": "gpt-4o-mini", "timeout": 30000, "retries": 0},
			map[string]any{"success": next("end")}),
		el("end", ai_gateway.DynamicRoutingNewParamsElementsTypeEnd, nil, map[string]any{}),
	}
}

// asVersionElements re-types a graph for NewVersion (its own element union).
func asVersionElements(els []ai_gateway.DynamicRoutingNewParamsElementUnion) []ai_gateway.DynamicRoutingNewVersionParamsElementUnion {
	out := make([]ai_gateway.DynamicRoutingNewVersionParamsElementUnion, len(els))
	for i, u := range els {
		e := u.(ai_gateway.DynamicRoutingNewParamsElement)
		out[i] = ai_gateway.DynamicRoutingNewVersionParamsElement{ID: e.ID, Outputs: e.Outputs, Properties: e.Properties,
			Type: cloudflare.F(ai_gateway.DynamicRoutingNewVersionParamsElementsType(e.Type.Value))}
	}
	return out
}

// versionModel reads the "main" model out of a version's data (route JSON text).
func versionModel(t *testing.T, data string) (name, model string) {
	t.Helper()
	var r struct {
		Name     string `json:"name"`
		Elements []struct {
			ID         string         `json:"id"`
			Properties map[string]any `json:"properties"`
		} `json:"elements"`
	}
	if err := json.Unmarshal([]byte(data), &r); err != nil {
		t.Fatalf("version data %q: %v", data, err)
	}
	for _, e := range r.Elements {
		if e.ID == "main" {
			model, _ = e.Properties["model"].(string)
		}
	}
	return r.Name, model
}

// namesElement reports whether one of a refusal's errors (code 7400) names element id and
// mentions what.
func namesElement(apiErr *cloudflare.Error, id, what string) bool {
	for _, e := range apiErr.Errors {
		if e.Code == 7400 && strings.Contains(e.Message, `element "`+id+`"`) && strings.Contains(e.Message, what) {
			return true
		}
	}
	return false
}

func TestRoutesControlWithHostedClient(t *testing.T) {
	g := startGateway(t, "", nil)
	api := g.API().AIGateway.DynamicRouting
	ctx := context.Background()
	acct := cloudflare.F(account)

	// New: the route, its first version and that version's deployment.
	created, err := api.New(ctx, gateway, ai_gateway.DynamicRoutingNewParams{AccountID: acct, Name: cloudflare.F("support"),
		Elements: cloudflare.F(hostedGraph("gpt-4o"))})
	if err != nil {
		t.Fatal(err)
	}
	v1 := created.Version.VersionID
	if created.ID == "" || created.Name != "support" || created.GatewayID != gateway || len(created.Elements) != 5 ||
		created.Elements[1].Type != ai_gateway.DynamicRoutingNewResponseElementsTypeRate || v1 == "" ||
		created.Deployment.VersionID != v1 || created.Deployment.DeploymentID == "" ||
		created.Version.Active != ai_gateway.DynamicRoutingNewResponseVersionActiveTrue || !created.Version.IsValid {
		t.Fatalf("new route: %s", created.JSON.RawJSON())
	}
	if name, model := versionModel(t, created.Version.Data); name != "support" || model != "gpt-4o" {
		t.Fatalf("first version data: %s", created.Version.Data)
	}
	id := created.ID
	if _, err := api.New(ctx, gateway, ai_gateway.DynamicRoutingNewParams{AccountID: acct, Name: cloudflare.F("sales"),
		Elements: cloudflare.F(hostedGraph("o4-mini"))}); err != nil {
		t.Fatal(err)
	}

	// A second route of the same name, and an invalid graph, are refused.
	_, err = api.New(ctx, gateway, ai_gateway.DynamicRoutingNewParams{AccountID: acct, Name: cloudflare.F("support"),
		Elements: cloudflare.F(hostedGraph("gpt-4o"))})
	var apiErr *cloudflare.Error
	if !asError(err, &apiErr) || apiErr.StatusCode != 409 {
		t.Fatalf("duplicate name: %v", err)
	}
	broken := hostedGraph("gpt-4o")
	bad := broken[3].(ai_gateway.DynamicRoutingNewParamsElement)
	bad.Outputs = cloudflare.F[any](map[string]any{"success": map[string]any{"elementId": "nowhere"}})
	broken[3] = bad
	_, err = api.New(ctx, gateway, ai_gateway.DynamicRoutingNewParams{AccountID: acct, Name: cloudflare.F("broken"),
		Elements: cloudflare.F(broken)})
	if !asError(err, &apiErr) || apiErr.StatusCode != 400 || !namesElement(apiErr, "mini", "nowhere") {
		t.Fatalf("invalid route: %v", err)
	}

	got, err := api.Get(ctx, gateway, id, ai_gateway.DynamicRoutingGetParams{AccountID: acct})
	if err != nil {
		t.Fatal(err)
	}
	if got.Name != "support" || got.Version.VersionID != v1 || got.Deployment.DeploymentID != created.Deployment.DeploymentID || len(got.Elements) != 5 {
		t.Fatalf("get: %s", got.JSON.RawJSON())
	}

	list, err := api.List(ctx, gateway, ai_gateway.DynamicRoutingListParams{AccountID: acct, PerPage: cloudflare.F(int64(10))})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, r := range list.Data.Routes {
		names = append(names, r.Name)
	}
	if !list.Success || !slices.Equal(names, []string{"sales", "support"}) || list.Data.Page != 1 || list.Data.PerPage != 10 ||
		list.Data.OrderBy != "created_at" || list.Data.OrderByDirection != "desc" {
		t.Fatalf("list: %s", list.JSON.RawJSON())
	}

	updated, err := api.Update(ctx, gateway, id, ai_gateway.DynamicRoutingUpdateParams{AccountID: acct, Name: cloudflare.F("helpdesk")})
	if err != nil {
		t.Fatal(err)
	}
	if !updated.Success || updated.Route.Name != "helpdesk" || updated.Route.ID != id || updated.Route.Version.VersionID != v1 {
		t.Fatalf("update: %s", updated.JSON.RawJSON())
	}

	// NewVersion keeps v1 deployed; the answer's version (an extra field) is the new one.
	nv, err := api.NewVersion(ctx, gateway, id, ai_gateway.DynamicRoutingNewVersionParams{AccountID: acct,
		Elements: cloudflare.F(asVersionElements(hostedGraph("gpt-5")))})
	if err != nil {
		t.Fatal(err)
	}
	var v2 struct {
		VersionID string `json:"version_id"`
		Active    string `json:"active"`
		IsValid   bool   `json:"is_valid"`
	}
	if err := json.Unmarshal([]byte(nv.JSON.ExtraFields["version"].Raw()), &v2); err != nil || v2.VersionID == "" || v2.Active != "false" || !v2.IsValid {
		t.Fatalf("new version: %s (%v)", nv.JSON.RawJSON(), err)
	}
	if nv.ID != id || nv.Name != "helpdesk" || len(nv.Elements) != 5 {
		t.Fatalf("new version answer: %s", nv.JSON.RawJSON())
	}

	// A draft: stored with is_valid false, refused when deployed, naming its element.
	draft, err := api.NewVersion(ctx, gateway, id, ai_gateway.DynamicRoutingNewVersionParams{AccountID: acct,
		Elements: cloudflare.F(asVersionElements(broken))})
	if err != nil {
		t.Fatal(err)
	}
	var draftVersion struct {
		VersionID string `json:"version_id"`
		IsValid   bool   `json:"is_valid"`
	}
	if err := json.Unmarshal([]byte(draft.JSON.ExtraFields["version"].Raw()), &draftVersion); err != nil || draftVersion.VersionID == "" || draftVersion.IsValid {
		t.Fatalf("draft: %s (%v)", draft.JSON.RawJSON(), err)
	}
	_, err = api.NewDeployment(ctx, gateway, id, ai_gateway.DynamicRoutingNewDeploymentParams{AccountID: acct, VersionID: cloudflare.F(draftVersion.VersionID)})
	if !asError(err, &apiErr) || apiErr.StatusCode != 400 || !namesElement(apiErr, "mini", "nowhere") {
		t.Fatalf("deploying a draft: %v", err)
	}

	versions, err := api.ListVersions(ctx, gateway, id, ai_gateway.DynamicRoutingListVersionsParams{AccountID: acct})
	if err != nil {
		t.Fatal(err)
	}
	var vids, active []string
	for _, v := range versions.Data.Versions {
		vids = append(vids, v.VersionID)
		active = append(active, string(v.Active))
	}
	if !versions.Success || !slices.Equal(vids, []string{draftVersion.VersionID, v2.VersionID, v1}) || !slices.Equal(active, []string{"false", "false", "true"}) {
		t.Fatalf("versions: %s", versions.JSON.RawJSON())
	}
	gv, err := api.GetVersion(ctx, gateway, id, v2.VersionID, ai_gateway.DynamicRoutingGetVersionParams{AccountID: acct})
	if err != nil {
		t.Fatal(err)
	}
	if name, model := versionModel(t, gv.Data); gv.VersionID != v2.VersionID || gv.ID != id || !gv.IsValid || len(gv.Elements) != 5 || name != "helpdesk" || model != "gpt-5" {
		t.Fatalf("get version: %s", gv.JSON.RawJSON())
	}

	// Deploy v2, then roll back to v1.
	for _, want := range []string{v2.VersionID, v1} {
		dep, err := api.NewDeployment(ctx, gateway, id, ai_gateway.DynamicRoutingNewDeploymentParams{AccountID: acct, VersionID: cloudflare.F(want)})
		if err != nil {
			t.Fatal(err)
		}
		now, err := api.Get(ctx, gateway, id, ai_gateway.DynamicRoutingGetParams{AccountID: acct})
		if err != nil {
			t.Fatal(err)
		}
		if dep.ID != id || now.Version.VersionID != want || now.Deployment.VersionID != want || now.Version.Active != "true" {
			t.Fatalf("deployed %s: %s", want, now.JSON.RawJSON())
		}
	}
	deps, err := api.ListDeployments(ctx, gateway, id, ai_gateway.DynamicRoutingListDeploymentsParams{AccountID: acct})
	if err != nil {
		t.Fatal(err)
	}
	var deployed []string
	for _, d := range deps.Data.Deployments {
		deployed = append(deployed, d.VersionID)
	}
	if !deps.Success || !slices.Equal(deployed, []string{v1, v2.VersionID, v1}) {
		t.Fatalf("deployments: %s", deps.JSON.RawJSON())
	}

	// Every change is in the audit trail, under its resource.
	for resource, n := range map[string]int{"route": 3, "route_version": 2, "route_deployment": 2} {
		st, env := apiCall(t, g, token, "GET", "/audit_logs?resource="+resource, nil)
		entries, _ := env["result"].([]any)
		if st != 200 || len(entries) != n {
			t.Errorf("audit of %s: %d, %d entries, want %d", resource, st, len(entries), n)
		}
	}

	// A restart rebuilds the same routes from the config stream.
	g.Stop()
	g.Restart()
	api = g.API().AIGateway.DynamicRouting // the restarted process listens on a new port
	again, err := api.Get(ctx, gateway, id, ai_gateway.DynamicRoutingGetParams{AccountID: acct})
	if err != nil {
		t.Fatal(err)
	}
	if again.Name != "helpdesk" || again.Version.VersionID != v1 || again.Deployment.DeploymentID != deps.Data.Deployments[0].DeploymentID {
		t.Fatalf("after restart: %s", again.JSON.RawJSON())
	}

	del, err := api.Delete(ctx, gateway, id, ai_gateway.DynamicRoutingDeleteParams{AccountID: acct})
	if err != nil {
		t.Fatal(err)
	}
	if del.ID != id || del.Name != "helpdesk" {
		t.Fatalf("delete: %s", del.JSON.RawJSON())
	}
	_, err = api.Get(ctx, gateway, id, ai_gateway.DynamicRoutingGetParams{AccountID: acct})
	if !asError(err, &apiErr) || apiErr.StatusCode != 404 {
		t.Fatalf("get after delete: %v", err)
	}
	list, err = api.List(ctx, gateway, ai_gateway.DynamicRoutingListParams{AccountID: acct})
	if err != nil || len(list.Data.Routes) != 1 || list.Data.Routes[0].Name != "sales" {
		t.Fatalf("list after delete: %v %s", err, list.JSON.RawJSON())
	}
}

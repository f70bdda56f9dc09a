// routes_test.go: dynamic routes, versions and deployments through the real
// handler, answers decoded with cloudflare-go v7's own types (the envelope ones where the
// client unwraps result, the whole-body ones where it does not), refusals naming the field
// and the element at fault, and who may call what.
package controlapi

import (
	"context"
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cloudflare/cloudflare-go/v7/ai_gateway"
	"github.com/switchyard/switchyard/engine/providers"
	"github.com/switchyard/switchyard/storage/config/configtest"
)

// stepClock is a clock that moves one second on every reading, so created_at orders.
type stepClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *stepClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(time.Second)
	return c.t
}

// routesServer is a server with gateway gw in acc whose configuration clock steps.
func routesServer(t *testing.T) *API {
	t.Helper()
	cfg, _ := configtest.New()
	cfg.Now = (&stepClock{t: time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)}).Now
	if _, err := cfg.CreateGateway(context.Background(), testActor, "acc", []byte(`{"id":"gw"}`)); err != nil {
		t.Fatal(err)
	}
	return New(Options{Providers: providers.NewTable(func(string) string { return "" }),
		Config: cfg, Logs: noLogs{}, AdminToken: adminTok})
}

// graphTo is a valid route graph: start, one model, end.
func graphTo(model string) string {
	return `[{"id":"start","type":"start","outputs":{"next":{"elementId":"m"}}},
		{"id":"m","type":"model","properties":{"provider":"openai","model":"` + model + `","timeout":60000,"retries":1},"outputs":{"success":{"elementId":"end"}}},
		{"id":"end","type":"end"}]`
}

// badGraph's start element leads to an element that does not exist.
const badGraph = `[{"id":"end","type":"end"},{"id":"begin","type":"start","outputs":{"next":{"elementId":"nowhere"}}}]`

func routeBodyOf(name, elements string) string {
	return `{"name":` + strconv.Quote(name) + `,"elements":` + elements + `}`
}

// dataModel reads the model of graphTo's graph out of a version's data text.
func dataModel(t *testing.T, data string) (id, name, model string) {
	t.Helper()
	var r struct {
		ID       string `json:"id"`
		Name     string `json:"name"`
		Elements []struct {
			Properties struct {
				Model string `json:"model"`
			} `json:"properties"`
		} `json:"elements"`
	}
	mustDecode(t, []byte(data), &r)
	if len(r.Elements) > 1 {
		model = r.Elements[1].Properties.Model
	}
	return r.ID, r.Name, model
}

func TestDynamicRoutesEndpoints(t *testing.T) {
	s := routesServer(t)
	status, raw := call(t, s, "POST", "/gateways/gw/routes", routeBodyOf("support", graphTo("gpt-4o")))
	var created ai_gateway.DynamicRoutingNewResponseEnvelope
	mustDecode(t, raw, &created)
	r := created.Result
	if status != 200 || !created.Success || r.ID == "" || r.Name != "support" || r.GatewayID != "gw" || r.CreatedAt.IsZero() ||
		len(r.Elements) != 3 || r.Elements[0].ID != "start" || r.Deployment.DeploymentID == "" ||
		r.Deployment.VersionID != r.Version.VersionID || r.Version.Active != "true" || !r.Version.IsValid {
		t.Fatalf("create: %d %s", status, raw)
	}
	if id, name, model := dataModel(t, r.Version.Data); id != r.ID || name != "support" || model != "gpt-4o" {
		t.Errorf("version data = %s", r.Version.Data)
	}
	v1 := r.Version.VersionID
	call(t, s, "POST", "/gateways/gw/routes", routeBodyOf("billing", graphTo("gpt-4o-mini")))
	call(t, s, "POST", "/gateways/gw/routes", routeBodyOf("alpha", graphTo("o4-mini")))

	status, raw = call(t, s, "GET", "/gateways/gw/routes/"+r.ID, "")
	var got ai_gateway.DynamicRoutingGetResponseEnvelope
	mustDecode(t, raw, &got)
	if status != 200 || got.Result.Name != "support" || got.Result.Version.VersionID != v1 || got.Result.Deployment.DeploymentID != r.Deployment.DeploymentID {
		t.Fatalf("get: %d %s", status, raw)
	}

	// Lists: the whole body as cloudflare-go reads it, and the envelope's result.
	lists := []struct {
		query, by, dir string
		names          []string
	}{
		{"", "created_at", "desc", []string{"alpha", "billing", "support"}},
		{"?order_by_direction=asc", "created_at", "asc", []string{"support", "billing", "alpha"}},
		{"?order_by=name", "name", "desc", []string{"support", "billing", "alpha"}},
		{"?order_by=name&order_by_direction=asc&per_page=2&page=2", "name", "asc", []string{"support"}},
		{"?page=3&per_page=2", "created_at", "desc", []string{}},
	}
	for _, c := range lists {
		status, raw := call(t, s, "GET", "/gateways/gw/routes"+c.query, "")
		var whole ai_gateway.DynamicRoutingListResponse
		mustDecode(t, raw, &whole)
		var env struct {
			Result     []ai_gateway.DynamicRoutingListResponseDataRoute `json:"result"`
			ResultInfo struct {
				TotalCount int `json:"total_count"`
			} `json:"result_info"`
		}
		mustDecode(t, raw, &env)
		names, envNames := []string{}, []string{}
		for i, r := range whole.Data.Routes {
			names = append(names, r.Name)
			envNames = append(envNames, env.Result[i].Name)
			if r.AccountTag != "acc" || len(r.Elements) != 3 || r.Version.Active != "true" {
				t.Errorf("%s: route %s incomplete: %s", c.query, r.Name, r.JSON.RawJSON())
			}
		}
		d := whole.Data
		if status != 200 || !whole.Success || !slices.Equal(names, c.names) || !slices.Equal(envNames, c.names) ||
			d.OrderBy != c.by || d.OrderByDirection != c.dir || env.ResultInfo.TotalCount != 3 {
			t.Errorf("list%s: %d %s", c.query, status, raw)
		}
	}

	// Rename: cloudflare-go reads {"success","route"}.
	status, raw = call(t, s, "PATCH", "/gateways/gw/routes/"+r.ID, `{"name":"helpdesk"}`)
	var renamed ai_gateway.DynamicRoutingUpdateResponse
	mustDecode(t, raw, &renamed)
	var renamedEnv ai_gateway.DynamicRoutingGetResponseEnvelope
	mustDecode(t, raw, &renamedEnv)
	if status != 200 || !renamed.Success || renamed.Route.Name != "helpdesk" || renamed.Route.ID != r.ID ||
		!renamed.Route.ModifiedAt.After(r.ModifiedAt) || renamedEnv.Result.Name != "helpdesk" {
		t.Fatalf("rename: %d %s", status, raw)
	}

	// A second version is not deployed until it is.
	status, raw = call(t, s, "POST", "/gateways/gw/routes/"+r.ID+"/versions", `{"elements":`+graphTo("gpt-5")+`}`)
	var nv ai_gateway.DynamicRoutingNewVersionResponseEnvelope
	mustDecode(t, raw, &nv)
	var nvVersion struct {
		Result struct {
			Version ai_gateway.DynamicRoutingGetResponseVersion `json:"version"`
		} `json:"result"`
		Messages []apiMessage `json:"messages"`
	}
	mustDecode(t, raw, &nvVersion)
	v2 := nvVersion.Result.Version
	if status != 200 || nv.Result.ID != r.ID || len(nv.Result.Elements) != 3 || v2.VersionID == "" || v2.VersionID == v1 ||
		v2.Active != "false" || !v2.IsValid || len(nvVersion.Messages) != 0 {
		t.Fatalf("new version: %d %s", status, raw)
	}
	if _, name, model := dataModel(t, v2.Data); name != "helpdesk" || model != "gpt-5" {
		t.Errorf("new version data = %s", v2.Data)
	}

	// A draft: kept, is_valid false, its problems in messages, and it cannot be deployed.
	status, raw = call(t, s, "POST", "/gateways/gw/routes/"+r.ID+"/versions", `{"elements":`+badGraph+`}`)
	mustDecode(t, raw, &nvVersion)
	draft := nvVersion.Result.Version
	problems := routeProblems([]byte(badGraph))
	var said []string
	for _, m := range nvVersion.Messages {
		if m.Code != msgDraft {
			t.Errorf("draft message code %d, want %d", m.Code, msgDraft)
		}
		said = append(said, m.Message)
	}
	if status != 200 || draft.IsValid || draft.Active != "false" || len(problems) == 0 || len(nvVersion.Messages) != len(problems)+1 ||
		!strings.Contains(strings.Join(said, "\n"), `element "begin"`) {
		t.Fatalf("draft: %d %s (problems %v)", status, raw, problems)
	}
	status, raw = call(t, s, "POST", "/gateways/gw/routes/"+r.ID+"/deployments", `{"version_id":"`+draft.VersionID+`"}`)
	wantProblems(t, status, raw, len(problems), "body", "version_id")

	// Deploy v2, then roll back to v1.
	for _, want := range []string{v2.VersionID, v1} {
		status, raw = call(t, s, "POST", "/gateways/gw/routes/"+r.ID+"/deployments", `{"version_id":"`+want+`"}`)
		var dep ai_gateway.DynamicRoutingNewDeploymentResponseEnvelope
		mustDecode(t, raw, &dep)
		var depFull ai_gateway.DynamicRoutingGetResponseEnvelope
		mustDecode(t, raw, &depFull)
		if status != 200 || dep.Result.ID != r.ID || depFull.Result.Deployment.VersionID != want || depFull.Result.Version.VersionID != want {
			t.Fatalf("deploy %s: %d %s", want, status, raw)
		}
	}
	status, raw = call(t, s, "GET", "/gateways/gw/routes/"+r.ID+"/deployments", "")
	var deps ai_gateway.DynamicRoutingListDeploymentsResponse
	mustDecode(t, raw, &deps)
	var depIDs []string
	for _, d := range deps.Data.Deployments {
		depIDs = append(depIDs, d.VersionID)
		if d.DeploymentID == "" || d.CreatedAt == "" {
			t.Errorf("deployment incomplete: %s", d.JSON.RawJSON())
		}
	}
	if status != 200 || !deps.Success || !slices.Equal(depIDs, []string{v1, v2.VersionID, v1}) || deps.Data.OrderByDirection != "desc" {
		t.Fatalf("deployments: %d %s", status, raw)
	}

	status, raw = call(t, s, "GET", "/gateways/gw/routes/"+r.ID+"/versions?order_by_direction=asc", "")
	var vers ai_gateway.DynamicRoutingListVersionsResponse
	mustDecode(t, raw, &vers)
	var active, valid []string
	for _, v := range vers.Data.Versions {
		active = append(active, string(v.Active))
		valid = append(valid, strconv.FormatBool(v.IsValid))
	}
	if status != 200 || len(vers.Data.Versions) != 3 || vers.Data.Versions[0].VersionID != v1 ||
		!slices.Equal(active, []string{"true", "false", "false"}) || !slices.Equal(valid, []string{"true", "true", "false"}) {
		t.Fatalf("versions: %d %s", status, raw)
	}

	status, raw = call(t, s, "GET", "/gateways/gw/routes/"+r.ID+"/versions/"+v2.VersionID, "")
	var gv ai_gateway.DynamicRoutingGetVersionResponseEnvelope
	mustDecode(t, raw, &gv)
	g := gv.Result
	if status != 200 || g.ID != r.ID || g.VersionID != v2.VersionID || g.Name != "helpdesk" || g.GatewayID != "gw" ||
		g.Active != "false" || !g.IsValid || len(g.Elements) != 3 || g.ModifiedAt.IsZero() {
		t.Fatalf("get version: %d %s", status, raw)
	}

	status, raw = call(t, s, "DELETE", "/gateways/gw/routes/"+r.ID, "")
	var del ai_gateway.DynamicRoutingDeleteResponseEnvelope
	mustDecode(t, raw, &del)
	if status != 200 || del.Result.ID != r.ID || del.Result.Name != "helpdesk" || len(del.Result.Elements) != 3 {
		t.Fatalf("delete: %d %s", status, raw)
	}
	status, raw = call(t, s, "GET", "/gateways/gw/routes/"+r.ID, "")
	wantFailure(t, status, raw, 404, "path", "id")
	if s.snap().RouteNamed("acc", "gw", "helpdesk") != nil {
		t.Fatal("deleted route still in the snapshot")
	}
}

// wantProblems checks a 400 with n errors, each naming an element or the route, at path
// (or below it, at the element's index).
func wantProblems(t *testing.T, status int, raw []byte, n int, path ...string) {
	t.Helper()
	var f failure
	mustDecode(t, raw, &f)
	if status != 400 || f.Success || len(f.Errors) != n || n == 0 {
		t.Fatalf("status %d %s; want 400 with %d errors", status, raw, n)
	}
	for _, e := range f.Errors {
		if e.Code != codeBadRequest || e.Message == "" || len(e.Path) < len(path) || !slices.Equal(e.Path[:len(path)], path) {
			t.Errorf("error %+v, want code %d at %v", e, codeBadRequest, path)
		}
	}
}

func TestDynamicRouteRefusals(t *testing.T) {
	s := routesServer(t)
	_, raw := call(t, s, "POST", "/gateways/gw/routes", routeBodyOf("support", graphTo("m")))
	var created ai_gateway.DynamicRoutingNewResponseEnvelope
	mustDecode(t, raw, &created)
	id := created.Result.ID
	R := "/gateways/gw/routes/" + id
	cases := []struct {
		name, method, path, body string
		status                   int
		at                       []string
	}{
		{"name taken", "POST", "/gateways/gw/routes", routeBodyOf("support", graphTo("m")), 409, []string{"body", "name"}},
		{"name with a control character", "POST", "/gateways/gw/routes", `{"name":"a\u0007b","elements":` + graphTo("m") + `}`, 400, []string{"body", "name"}},
		{"name too long", "POST", "/gateways/gw/routes", routeBodyOf(strings.Repeat("n", 65), graphTo("m")), 400, []string{"body", "name"}},
		{"no name", "POST", "/gateways/gw/routes", `{"elements":` + graphTo("m") + `}`, 400, []string{"body", "name"}},
		{"no elements", "POST", "/gateways/gw/routes", `{"name":"x"}`, 400, []string{"body", "elements"}},
		{"elements not an array", "POST", "/gateways/gw/routes", `{"name":"x","elements":{"id":"start"}}`, 400, []string{"body", "elements"}},
		{"not JSON", "POST", "/gateways/gw/routes", `name=x`, 400, []string{"body"}},
		{"unknown gateway", "POST", "/gateways/nosuch/routes", routeBodyOf("x", graphTo("m")), 404, []string{"path", "gateway_id"}},
		{"list of unknown gateway", "GET", "/gateways/nosuch/routes", "", 404, []string{"path", "gateway_id"}},
		{"unknown order", "GET", "/gateways/gw/routes?order_by=colour", "", 400, []string{"query", "order_by"}},
		{"unknown direction", "GET", "/gateways/gw/routes?order_by_direction=up", "", 400, []string{"query", "order_by_direction"}},
		{"unknown parameter", "GET", "/gateways/gw/routes?sort=name", "", 400, []string{"query", "sort"}},
		{"bad page", "GET", R + "/versions?page=0", "", 400, []string{"query", "page"}},
		{"unknown route", "GET", "/gateways/gw/routes/nosuch", "", 404, []string{"path", "id"}},
		{"rename unknown route", "PATCH", "/gateways/gw/routes/nosuch", `{"name":"x"}`, 404, []string{"path", "id"}},
		{"rename without name", "PATCH", R, `{}`, 400, []string{"body", "name"}},
		{"rename to a blank name", "PATCH", R, `{"name":"  "}`, 400, []string{"body", "name"}},
		{"delete unknown route", "DELETE", "/gateways/gw/routes/nosuch", "", 404, []string{"path", "id"}},
		{"versions of unknown route", "GET", "/gateways/gw/routes/nosuch/versions", "", 404, []string{"path", "id"}},
		{"version of unknown route", "POST", "/gateways/gw/routes/nosuch/versions", `{"elements":` + graphTo("m") + `}`, 404, []string{"path", "id"}},
		{"version without elements", "POST", R + "/versions", `{}`, 400, []string{"body", "elements"}},
		{"unknown version", "GET", R + "/versions/nosuch", "", 404, []string{"path", "version_id"}},
		{"deploy without version", "POST", R + "/deployments", `{}`, 400, []string{"body", "version_id"}},
		{"deploy unknown version", "POST", R + "/deployments", `{"version_id":"nosuch"}`, 404, []string{"body", "version_id"}},
		{"deployments of unknown route", "GET", "/gateways/gw/routes/nosuch/deployments", "", 404, []string{"path", "id"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			status, raw := call(t, s, c.method, c.path, c.body)
			wantFailure(t, status, raw, c.status, c.at...)
		})
	}

	// An invalid graph: one error per problem, each naming its element and pointing at it.
	status, raw := call(t, s, "POST", "/gateways/gw/routes", routeBodyOf("broken", badGraph))
	problems := routeProblems([]byte(badGraph))
	wantProblems(t, status, raw, len(problems), "body", "elements")
	var f failure
	mustDecode(t, raw, &f)
	named := false
	for _, e := range f.Errors {
		if strings.Contains(e.Message, `element "begin"`) {
			named = true
			if !slices.Equal(e.Path, []string{"body", "elements", "1"}) {
				t.Errorf("problem of element begin at %v, want body.elements.1", e.Path)
			}
		}
	}
	if !named {
		t.Errorf("no error names element begin: %s", raw)
	}
	if s.snap().RouteNamed("acc", "gw", "broken") != nil {
		t.Fatal("an invalid route was created")
	}

	// Methods the hosted API does not have are not routed.
	for _, m := range []string{"PUT /gateways/gw/routes/" + id, "DELETE " + R + "/versions", "PATCH " + R + "/deployments", "GET " + R + "/elsewhere"} {
		method, path, _ := strings.Cut(m, " ")
		status, raw := call(t, s, method, path, "")
		wantFailure(t, status, raw, 404, "path")
	}
}

func TestDynamicRoutePermissions(t *testing.T) {
	f := newFixture(t)
	const G = "/client/v4/accounts/acc/ai-gateway/gateways/gw/routes"
	rc := f.call(t, "POST", G, routeBodyOf("support", graphTo("m")), "admin", nil)
	var created ai_gateway.DynamicRoutingNewResponseEnvelope
	mustDecode(t, rc.Response.Body(), &created)
	id, v := created.Result.ID, created.Result.Version.VersionID
	endpoints := []struct{ method, path, body, perm string }{
		{"GET", G, "", "read"},
		{"POST", G, routeBodyOf("other", graphTo("m")), "edit"},
		{"GET", G + "/" + id, "", "read"},
		{"PATCH", G + "/" + id, `{"name":"support"}`, "edit"},
		{"GET", G + "/" + id + "/versions", "", "read"},
		{"POST", G + "/" + id + "/versions", `{"elements":` + graphTo("m2") + `}`, "edit"},
		{"GET", G + "/" + id + "/versions/" + v, "", "read"},
		{"GET", G + "/" + id + "/deployments", "", "read"},
		{"POST", G + "/" + id + "/deployments", `{"version_id":"` + v + `"}`, "edit"},
		{"DELETE", G + "/nosuch", "", "edit"},
		{"POST", G + "/validate", `{"elements":` + graphTo("m") + `}`, "read"},
	}
	holds := map[string]map[string]bool{
		"run": {}, "edit-other": {}, "admin-acc2": {},
		"read": {"read": true}, "edit": {"read": true, "edit": true}, "admin": {"read": true, "edit": true},
	}
	for _, e := range endpoints {
		for kind, perms := range holds {
			t.Run(e.method+" "+strings.TrimPrefix(e.path, G)+" as "+kind, func(t *testing.T) {
				st := f.call(t, e.method, e.path, e.body, kind, nil).Response.StatusCode()
				if perms[e.perm] != (st != 403) || st == 401 {
					t.Fatalf("status %d; allowed %v", st, perms[e.perm])
				}
			})
		}
	}
	// The route's graph survives a rename by anyone allowed to edit, and is answered as sent.
	rc = f.call(t, "GET", G+"/"+id, "", "read", nil)
	var got struct {
		Result struct {
			Elements []json.RawMessage `json:"elements"`
		} `json:"result"`
	}
	mustDecode(t, rc.Response.Body(), &got)
	if len(got.Result.Elements) != 3 || !strings.Contains(string(got.Result.Elements[1]), `"retries":1`) {
		t.Fatalf("elements answered as %s", rc.Response.Body())
	}
}

// TestValidateRoute: validate answers each problem with its element, the element's index in
// what was sent and the message creating the route would give; it stores nothing.
func TestValidateRoute(t *testing.T) {
	s := routesServer(t)
	type problem struct {
		ElementID    string `json:"element_id"`
		ElementIndex int    `json:"element_index"`
		Message      string `json:"message"`
	}
	cases := []struct {
		name, elements string
		valid          bool
		want           []problem // element id and index of each problem, in order
	}{
		{"valid", graphTo("m"), true, nil},
		{"dangling output", badGraph, false, []problem{{ElementID: "begin", ElementIndex: 1}}},
		{"unknown type", `[{"id":"s","type":"start","outputs":{"next":{"elementId":"e"}}},{"id":"x","type":"teleport"},{"id":"e","type":"end"}]`,
			false, []problem{{ElementID: "x", ElementIndex: 1}}},
		{"not decodable", `[{"id":1}]`, false, []problem{{ElementIndex: -1}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			status, raw := call(t, s, "POST", "/gateways/gw/routes/validate", `{"elements":`+c.elements+`}`)
			var got struct {
				Success bool `json:"success"`
				Result  struct {
					IsValid  bool      `json:"is_valid"`
					Problems []problem `json:"problems"`
				} `json:"result"`
			}
			mustDecode(t, raw, &got)
			if status != 200 || !got.Success || got.Result.IsValid != c.valid {
				t.Fatalf("%d %s", status, raw)
			}
			// The messages are those a create call answers, in the same order.
			cs, craw := call(t, s, "POST", "/gateways/gw/routes", routeBodyOf("r-"+strings.ReplaceAll(c.name, " ", "-"), c.elements))
			var created failure
			mustDecode(t, craw, &created)
			if c.valid {
				if len(got.Result.Problems) != 0 || cs != 200 {
					t.Fatalf("valid graph: problems %v, create %d", got.Result.Problems, cs)
				}
				return
			}
			if len(got.Result.Problems) < len(c.want) || len(created.Errors) != len(got.Result.Problems) {
				t.Fatalf("problems %+v; create answered %s", got.Result.Problems, craw)
			}
			for i, p := range got.Result.Problems {
				if p.Message != created.Errors[i].Message {
					t.Errorf("problem %d: %q, create says %q", i, p.Message, created.Errors[i].Message)
				}
			}
			for _, w := range c.want {
				found := slices.ContainsFunc(got.Result.Problems, func(p problem) bool {
					return p.ElementID == w.ElementID && p.ElementIndex == w.ElementIndex
				})
				if !found {
					t.Errorf("no problem on element %q at %d: %+v", w.ElementID, w.ElementIndex, got.Result.Problems)
				}
			}
		})
	}
	if n := len(s.snap().Routes("acc", "gw")); n != 1 {
		t.Fatalf("validate stored something: %d routes (only the valid case's create should)", n)
	}
	for _, c := range []struct {
		name, path, body string
		status           int
		at               []string
	}{
		{"no elements", "/gateways/gw/routes/validate", `{}`, 400, []string{"body", "elements"}},
		{"not JSON", "/gateways/gw/routes/validate", `[`, 400, []string{"body"}},
		{"unknown gateway", "/gateways/nosuch/routes/validate", `{"elements":[]}`, 404, []string{"path", "gateway_id"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			status, raw := call(t, s, "POST", c.path, c.body)
			wantFailure(t, status, raw, c.status, c.at...)
		})
	}
}

// routes_test.go: dynamic routes through the service and the projection — names, the
// create that deploys its first version, versions and drafts, deployments and rollback,
// rename and delete, what each event holds, a gateway's deletion, and replay.
package config_test

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/switchyard/switchyard/storage/config"
	"github.com/switchyard/switchyard/storage/config/configtest"
)

// elementsTo is a valid-looking route graph whose model element names model.
func elementsTo(model string) json.RawMessage {
	return json.RawMessage(`[
		{"id":"start","type":"start","outputs":{"next":{"elementId":"m"}}},
		{"id":"m","type":"model","properties":{"provider":"openai","model":"` + model + `"},"outputs":{"success":{"elementId":"end"}}},
		{"id":"end","type":"end"}]`)
}

func mustRoute(t *testing.T, svc *config.Service, gw, name string, elements json.RawMessage) *config.Route {
	t.Helper()
	r, err := svc.CreateRoute(bg, actor, acct, gw, name, elements, true)
	if err != nil {
		t.Fatalf("CreateRoute(%s): %v", name, err)
	}
	return r
}

func mustVersion(t *testing.T, svc *config.Service, gw, routeID string, elements json.RawMessage, valid bool) *config.RouteVersion {
	t.Helper()
	_, v, err := svc.CreateRouteVersion(bg, actor, acct, gw, routeID, elements, valid)
	if err != nil {
		t.Fatalf("CreateRouteVersion: %v", err)
	}
	return v
}

func mustDeploy(t *testing.T, svc *config.Service, gw, routeID, versionID string) *config.RouteDeployment {
	t.Helper()
	_, d, err := svc.DeployRouteVersion(bg, actor, acct, gw, routeID, versionID, true)
	if err != nil {
		t.Fatalf("DeployRouteVersion(%s): %v", versionID, err)
	}
	return d
}

// modelOf reads the model name out of elementsTo's graph.
func modelOf(t *testing.T, v *config.RouteVersion) string {
	t.Helper()
	var els []struct {
		Properties struct {
			Model string `json:"model"`
		} `json:"properties"`
	}
	if err := json.Unmarshal(v.Elements, &els); err != nil || len(els) < 2 {
		t.Fatalf("elements %s: %v", v.Elements, err)
	}
	return els[1].Properties.Model
}

func TestRouteNames(t *testing.T) {
	svc, _, _ := newSvc(t)
	mustGateway(t, svc, acct, `{"id":"gw"}`)
	mustGateway(t, svc, acct, `{"id":"gw2"}`)
	mustRoute(t, svc, "gw", "support", elementsTo("gpt-4o"))
	cases := []struct {
		name, gw, route string
		status          int // 0: created
	}{
		{"plain", "gw", "sales", 0},
		{"dots, dashes, underscores, digits", "gw", "a.b_c-D9", 0},
		{"64 characters", "gw", strings.Repeat("r", 64), 0},
		{"same name on another gateway", "gw2", "support", 0},
		{"taken on this gateway", "gw", "support", 409},
		{"names are case-sensitive", "gw", "Support", 0},
		{"empty", "gw", "", 400},
		{"65 characters", "gw", strings.Repeat("r", 65), 400},
		{"spaces, as cloudflare-go's generated test sends", "gw", "Route Name", 0},
		{"slash (a model splits at its first one)", "gw", "team/x", 0},
		{"non-ASCII", "gw", "rüte", 0},
		{"64 non-ASCII characters", "gw", strings.Repeat("ü", 64), 0},
		{"65 non-ASCII characters", "gw", strings.Repeat("ü", 65), 400},
		{"blank", "gw", "   ", 400},
		{"tab", "gw", "a\tb", 400},
		{"newline", "gw", "a\nb", 400},
		{"NUL", "gw", "a\x00b", 400},
		{"invalid UTF-8", "gw", "a\xffb", 400},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r, err := svc.CreateRoute(bg, actor, acct, c.gw, c.route, elementsTo("m"), true)
			switch c.status {
			case 0:
				if err != nil || r.Name != c.route || snap(svc).RouteNamed(acct, c.gw, c.route) == nil {
					t.Fatalf("create %q: %v", c.route, err)
				}
			case 409:
				wantErr(t, err, 409, config.CodeConflict, "body", "name")
			default:
				wantErr(t, err, 400, config.CodeInvalid, "body", "name")
			}
		})
	}
}

func TestCreateRouteRefusals(t *testing.T) {
	svc, log, _ := newSvc(t)
	mustGateway(t, svc, acct, `{"id":"gw"}`)
	before := len(log.Events)
	cases := []struct {
		name, gw string
		elements string
		valid    bool
		status   int
		path     []string
	}{
		{"unknown gateway", "nosuch", `[]`, true, 404, []string{"path", "gateway_id"}},
		{"elements not JSON", "gw", `[{`, true, 400, []string{"body", "elements"}},
		{"elements an object", "gw", `{"id":"start"}`, true, 400, []string{"body", "elements"}},
		{"elements missing", "gw", ``, true, 400, []string{"body", "elements"}},
		{"invalid graph", "gw", `[{"id":"start","type":"start"}]`, false, 400, []string{"body", "elements"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := svc.CreateRoute(bg, actor, acct, c.gw, "r", json.RawMessage(c.elements), c.valid)
			code := config.CodeInvalid
			if c.status == 404 {
				code = config.CodeNotFound
			}
			wantErr(t, err, c.status, code, c.path...)
		})
	}
	if len(log.Events) != before || len(snap(svc).Routes(acct, "gw")) != 0 {
		t.Fatalf("refused creates wrote %d events", len(log.Events)-before)
	}
}

func TestCreateRouteDeploysItsFirstVersion(t *testing.T) {
	svc, log, _ := newSvc(t)
	mustGateway(t, svc, acct, `{"id":"gw"}`)
	before := len(log.Events)
	r := mustRoute(t, svc, "gw", "support", elementsTo("gpt-4o"))

	// One event holds the route, its first version and that version's deployment.
	if len(log.Events) != before+1 {
		t.Fatalf("create wrote %d events, want 1", len(log.Events)-before)
	}
	_, c := decodeEvent(t, log.Events[len(log.Events)-1])
	m := jsonMap(t, c.New)
	if c.Resource != config.ResRoute || c.Action != "create" || c.ResourceID != r.ID || c.GatewayID != "gw" ||
		m["name"] != "support" || m["version"] == nil || m["deployment"] == nil {
		t.Fatalf("create event = %+v %s", c, c.New)
	}

	v, d := r.Deployed()
	if v == nil || d == nil || d.VersionID != v.ID || !v.Valid || modelOf(t, v) != "gpt-4o" || len(r.Versions()) != 1 || len(r.Deployments()) != 1 {
		t.Fatalf("answered route: %+v, version %+v, deployment %+v", r, v, d)
	}
	if string(v.Elements) != string(compact(t, elementsTo("gpt-4o"))) {
		t.Errorf("elements stored as %s, want them compacted", v.Elements)
	}
	s := snap(svc)
	sv, sd := s.DeployedVersion(acct, "gw", r.ID)
	if sv == nil || sd == nil || sv.ID != v.ID || sd.ID != d.ID || s.RouteVersion(acct, "gw", r.ID, v.ID) != sv {
		t.Fatalf("snapshot deployed %+v %+v", sv, sd)
	}
	if s.RouteNamed(acct, "gw", "support") != s.Route(acct, "gw", r.ID) || s.Route("other", "gw", r.ID) != nil || s.Route(acct, "gw2", r.ID) != nil {
		t.Fatal("route not found by name, or found from another gateway or account")
	}
	if v, d := s.DeployedVersion(acct, "gw", "nosuch"); v != nil || d != nil || s.RouteVersion(acct, "gw", r.ID, "nosuch") != nil {
		t.Fatal("unknown route or version found")
	}
}

func compact(t *testing.T, raw json.RawMessage) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := json.Compact(&buf, raw); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestRouteLifecycle walks one route through versions, drafts, deployments, a rollback, a
// rename and its deletion, checking the snapshot after each step.
func TestRouteLifecycle(t *testing.T) {
	svc, log, clk := newSvc(t)
	mustGateway(t, svc, acct, `{"id":"gw"}`)
	r := mustRoute(t, svc, "gw", "support", elementsTo("v1"))
	v1, _ := r.Deployed()
	ids := map[string]string{"v1": v1.ID}

	steps := []struct {
		name   string
		do     func(t *testing.T, at time.Time) error
		status int    // 0: accepted
		active string // the model of the deployed version afterwards
		n      int    // versions afterwards
	}{
		{"second version is not deployed", func(t *testing.T, _ time.Time) error {
			ids["v2"] = mustVersion(t, svc, "gw", r.ID, elementsTo("v2"), true).ID
			return nil
		}, 0, "v1", 2},
		{"a draft is kept", func(t *testing.T, _ time.Time) error {
			v := mustVersion(t, svc, "gw", r.ID, json.RawMessage(`[{"id":"x","type":"teleport"}]`), false)
			if v.Valid {
				t.Error("draft stored as valid")
			}
			ids["draft"] = v.ID
			return nil
		}, 0, "v1", 3},
		{"deploy v2", func(t *testing.T, _ time.Time) error {
			mustDeploy(t, svc, "gw", r.ID, ids["v2"])
			return nil
		}, 0, "v2", 3},
		{"the draft cannot be deployed", func(t *testing.T, _ time.Time) error {
			_, _, err := svc.DeployRouteVersion(bg, actor, acct, "gw", r.ID, ids["draft"], false)
			wantErr(t, err, 400, config.CodeInvalid, "body", "version_id")
			return err
		}, 400, "v2", 3},
		{"an unknown version cannot be deployed", func(t *testing.T, _ time.Time) error {
			_, _, err := svc.DeployRouteVersion(bg, actor, acct, "gw", r.ID, "nosuch", true)
			wantErr(t, err, 404, config.CodeNotFound, "body", "version_id")
			return err
		}, 404, "v2", 3},
		{"rollback to v1", func(t *testing.T, _ time.Time) error {
			mustDeploy(t, svc, "gw", r.ID, ids["v1"])
			return nil
		}, 0, "v1", 3},
		{"a version of an unknown route", func(t *testing.T, _ time.Time) error {
			_, _, err := svc.CreateRouteVersion(bg, actor, acct, "gw", "nosuch", elementsTo("x"), true)
			wantErr(t, err, 404, config.CodeNotFound, "path", "id")
			return err
		}, 404, "v1", 3},
		{"a version that is not an array", func(t *testing.T, _ time.Time) error {
			_, _, err := svc.CreateRouteVersion(bg, actor, acct, "gw", r.ID, json.RawMessage(`"start"`), true)
			wantErr(t, err, 400, config.CodeInvalid, "body", "elements")
			return err
		}, 400, "v1", 3},
		{"rename", func(t *testing.T, at time.Time) error {
			got, err := svc.RenameRoute(bg, actor, acct, "gw", r.ID, "helpdesk")
			if err == nil && (got.Name != "helpdesk" || !got.ModifiedAt.Equal(at) || !got.CreatedAt.Equal(t0)) {
				t.Errorf("renamed = %+v", got)
			}
			return err
		}, 0, "v1", 3},
	}
	for i, st := range steps {
		at := t0.Add(time.Duration(i+1) * time.Minute)
		clk.set(at)
		before := len(log.Events)
		err := st.do(t, at)
		if (err == nil) != (st.status == 0) {
			t.Fatalf("%s: err %v, want status %d", st.name, err, st.status)
		}
		if wrote := len(log.Events) - before; (st.status == 0) != (wrote == 1) {
			t.Fatalf("%s: wrote %d events", st.name, wrote)
		}
		cur := snap(svc).Route(acct, "gw", r.ID)
		v, _ := cur.Deployed()
		if modelOf(t, v) != st.active || len(cur.Versions()) != st.n {
			t.Fatalf("%s: deployed %s with %d versions, want %s with %d", st.name, modelOf(t, v), len(cur.Versions()), st.active, st.n)
		}
		if st.status == 0 && !cur.ModifiedAt.Equal(at) {
			t.Errorf("%s: modified_at %v, want %v", st.name, cur.ModifiedAt, at)
		}
	}

	cur := snap(svc).Route(acct, "gw", r.ID)
	var deployed []string
	for _, d := range cur.Deployments() {
		deployed = append(deployed, d.VersionID)
	}
	if !reflect.DeepEqual(deployed, []string{ids["v1"], ids["v2"], ids["v1"]}) {
		t.Errorf("deployments = %v", deployed)
	}
	if snap(svc).RouteNamed(acct, "gw", "support") != nil || snap(svc).RouteNamed(acct, "gw", "helpdesk") != cur {
		t.Error("the old name still finds the route, or the new one does not")
	}
	// The old name is free again; the new one is taken.
	mustRoute(t, svc, "gw", "support", elementsTo("other"))
	_, err := svc.RenameRoute(bg, actor, acct, "gw", r.ID, "support")
	wantErr(t, err, 409, config.CodeConflict, "body", "name")
	_, err = svc.RenameRoute(bg, actor, acct, "gw", r.ID, "bad\nname")
	wantErr(t, err, 400, config.CodeInvalid, "body", "name")

	del, err := svc.DeleteRoute(bg, actor, acct, "gw", r.ID)
	if err != nil || del.ID != r.ID || del.Name != "helpdesk" {
		t.Fatalf("delete: %+v %v", del, err)
	}
	s := snap(svc)
	if s.Route(acct, "gw", r.ID) != nil || s.RouteNamed(acct, "gw", "helpdesk") != nil || s.RouteVersion(acct, "gw", r.ID, ids["v1"]) != nil || len(s.Routes(acct, "gw")) != 1 {
		t.Fatal("deleted route still there")
	}
	_, err = svc.DeleteRoute(bg, actor, acct, "gw", r.ID)
	wantErr(t, err, 404, config.CodeNotFound, "path", "id")
	_, err = svc.RenameRoute(bg, actor, acct, "gw", r.ID, "x")
	wantErr(t, err, 404, config.CodeNotFound, "path", "id")
	_, _, err = svc.DeployRouteVersion(bg, actor, acct, "gw", r.ID, ids["v1"], true)
	wantErr(t, err, 404, config.CodeNotFound, "path", "id")
}

// TestRouteEventsStaySmall: a version is written once, in its own event; later versions,
// deployments and renames do not write it again.
func TestRouteEventsStaySmall(t *testing.T) {
	svc, log, _ := newSvc(t)
	mustGateway(t, svc, acct, `{"id":"gw"}`)
	r := mustRoute(t, svc, "gw", "big", elementsTo("first"))
	var last *config.RouteVersion
	for i := range 100 {
		last = mustVersion(t, svc, "gw", r.ID, elementsTo("model-"+strconv.Itoa(i)), true)
	}
	mustDeploy(t, svc, "gw", r.ID, last.ID)
	if _, err := svc.RenameRoute(bg, actor, acct, "gw", r.ID, "bigger"); err != nil {
		t.Fatal(err)
	}
	events := log.Events[len(log.Events)-102:]
	for i, m := range events {
		_, c := decodeEvent(t, m)
		if n := strings.Count(string(c.New), `"type":"start"`); (i < 100 && n != 1) || (i >= 100 && n != 0) {
			t.Errorf("event %d (%s %s) holds %d graphs", i, c.Resource, c.Action, n)
		}
		if len(c.New)+len(c.Old) > 1024 {
			t.Errorf("event %d (%s %s) is %d bytes", i, c.Resource, c.Action, len(c.New)+len(c.Old))
		}
	}
	_, dep := decodeEvent(t, events[100])
	if dep.Resource != config.ResRouteDeployment || jsonMap(t, dep.Old)["version_id"] == nil || jsonMap(t, dep.New)["version_id"] != last.ID {
		t.Errorf("deployment event = %+v %s %s", dep, dep.Old, dep.New)
	}
	cur := snap(svc).Route(acct, "gw", r.ID)
	if v, _ := cur.Deployed(); len(cur.Versions()) != 101 || v.ID != last.ID || cur.Version(last.ID) != v {
		t.Fatalf("route has %d versions, deployed %+v", len(cur.Versions()), v)
	}
}

// TestOldSnapshotKeepsItsVersion: a snapshot taken before a deployment still answers the
// version it had (a request in flight finishes on the version it started with).
func TestOldSnapshotKeepsItsVersion(t *testing.T) {
	svc, _, _ := newSvc(t)
	mustGateway(t, svc, acct, `{"id":"gw"}`)
	r := mustRoute(t, svc, "gw", "support", elementsTo("before"))
	old := snap(svc)
	v2 := mustVersion(t, svc, "gw", r.ID, elementsTo("after"), true)
	mustDeploy(t, svc, "gw", r.ID, v2.ID)
	if _, err := svc.RenameRoute(bg, actor, acct, "gw", r.ID, "renamed"); err != nil {
		t.Fatal(err)
	}
	ov, _ := old.DeployedVersion(acct, "gw", r.ID)
	nv, _ := snap(svc).DeployedVersion(acct, "gw", r.ID)
	if modelOf(t, ov) != "before" || modelOf(t, nv) != "after" || len(old.Route(acct, "gw", r.ID).Versions()) != 1 ||
		old.RouteNamed(acct, "gw", "support") == nil || old.RouteNamed(acct, "gw", "renamed") != nil {
		t.Fatal("publishing a change altered an earlier snapshot")
	}
}

func TestDeletingGatewayDropsItsRoutes(t *testing.T) {
	svc, _, _ := newSvc(t)
	mustGateway(t, svc, acct, `{"id":"gw"}`)
	mustGateway(t, svc, acct, `{"id":"keep"}`)
	r := mustRoute(t, svc, "gw", "support", elementsTo("a"))
	mustVersion(t, svc, "gw", r.ID, elementsTo("b"), true)
	kept := mustRoute(t, svc, "keep", "support", elementsTo("c"))
	if _, err := svc.DeleteGateway(bg, actor, acct, "gw"); err != nil {
		t.Fatal(err)
	}
	mustGateway(t, svc, acct, `{"id":"gw"}`) // a new gateway of the same id starts empty
	s := snap(svc)
	if s.Route(acct, "gw", r.ID) != nil || s.RouteNamed(acct, "gw", "support") != nil || len(s.Routes(acct, "gw")) != 0 {
		t.Fatal("routes of a deleted gateway survived it")
	}
	if s.Route(acct, "keep", kept.ID) == nil || s.RouteNamed(acct, "keep", "support") == nil {
		t.Fatal("another gateway's route went with it")
	}
	mustRoute(t, svc, "gw", "support", elementsTo("d"))
}

func TestRoutesReplay(t *testing.T) {
	svc, log, clk := newSvc(t)
	mustGateway(t, svc, acct, `{"id":"gw"}`)
	mustGateway(t, svc, acct, `{"id":"gone"}`)
	var ids []string
	for i, name := range []string{"a", "b", "c"} {
		clk.set(t0.Add(time.Duration(i) * time.Hour))
		r := mustRoute(t, svc, "gw", name, elementsTo(name+"1"))
		ids = append(ids, r.ID)
		v := mustVersion(t, svc, "gw", r.ID, elementsTo(name+"2"), true)
		mustVersion(t, svc, "gw", r.ID, json.RawMessage(`[]`), false)
		mustDeploy(t, svc, "gw", r.ID, v.ID)
	}
	mustDeploy(t, svc, "gw", ids[0], snap(svc).Route(acct, "gw", ids[0]).Versions()[0].ID)
	if _, err := svc.RenameRoute(bg, actor, acct, "gw", ids[1], "b2"); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.DeleteRoute(bg, actor, acct, "gw", ids[2]); err != nil {
		t.Fatal(err)
	}
	mustRoute(t, svc, "gone", "x", elementsTo("x"))
	if _, err := svc.DeleteGateway(bg, actor, acct, "gone"); err != nil {
		t.Fatal(err)
	}
	live := snap(svc)

	sealer, _ := config.NewSealer(make([]byte, 32))
	p := config.NewProjection(log, sealer, nil)
	for _, m := range log.Events {
		for range 2 { // applying an event twice is a no-op
			if err := p.Apply(m); err != nil {
				t.Fatal(err)
			}
		}
	}
	got := p.Current()
	for _, gw := range []string{"gw", "gone"} {
		if w, g := live.Routes(acct, gw), got.Routes(acct, gw); !reflect.DeepEqual(w, g) {
			t.Errorf("replayed routes of %s differ:\n%+v\n%+v", gw, w, g)
		}
	}
	for _, name := range []string{"a", "b", "b2", "c", "x"} {
		if w, g := live.RouteNamed(acct, "gw", name), got.RouteNamed(acct, "gw", name); !reflect.DeepEqual(w, g) {
			t.Errorf("RouteNamed(%s) = %+v after replay, want %+v", name, g, w)
		}
	}
	if r := got.Route(acct, "gw", ids[0]); len(r.Versions()) != 3 || len(r.Deployments()) != 3 {
		t.Errorf("replayed route a: %d versions, %d deployments", len(r.Versions()), len(r.Deployments()))
	}
	audit := p.Audit(config.AuditQuery{ResourceType: "route_version"})
	if len(audit) != 6 || audit[0].Action.Info != "route version created" {
		t.Errorf("route_version audit entries: %d %+v", len(audit), audit)
	}
}

// BenchmarkDeployedRouteLookup is what the data plane does per "dynamic/<name>" request:
// find the route by name and its deployed version, on a gateway with 1,000 routes.
func BenchmarkDeployedRouteLookup(b *testing.B) {
	svc, _ := configtest.New()
	if _, err := svc.CreateGateway(bg, actor, acct, []byte(`{"id":"gw"}`)); err != nil {
		b.Fatal(err)
	}
	for i := range 1000 {
		if _, err := svc.CreateRoute(bg, actor, acct, "gw", "route-"+strconv.Itoa(i), elementsTo("m"), true); err != nil {
			b.Fatal(err)
		}
	}
	s := svc.Projection().Current()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		r := s.RouteNamed(acct, "gw", "route-500")
		if v, _ := s.DeployedVersion(acct, "gw", r.ID); v == nil {
			b.Fatal("no deployed version")
		}
	}
}

// dlpprofiles_test.go: custom DLP profiles as a config resource — the hosted create and update
// bodies, validation naming the field, entry ids kept across updates, the refusal to delete a
// profile a gateway uses, the per-account version the engine's cache keys on, and replay.
package config_test

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/switchyard/switchyard/engine/dlp"
	"github.com/switchyard/switchyard/storage/config"
)

// predefinedEntry is the id of one predefined entry (the first of the first profile).
func predefinedEntry() string { return dlp.Predefined()[0].Entries[0].ID }

func TestDLPProfileCreateValidation(t *testing.T) {
	long := strings.Repeat("a", 1025)
	for _, c := range []struct {
		name, body string
		status     int
		path       []string
	}{
		{"regex entry", `{"name":"ids","entries":[{"name":"emp","enabled":true,"pattern":{"regex":"EMP-[0-9]{6}"}}]}`, 200, nil},
		{"luhn kept", `{"name":"cards","entries":[{"name":"c","enabled":true,"pattern":{"regex":"[0-9]{16}","validation":"luhn"}}]}`, 200, nil},
		{"word list", `{"name":"words","entries":[{"name":"w","enabled":true,"words":["Project Falcon","falcon-7"]}]}`, 200, nil},
		{"shared entry", `{"name":"shared","shared_entries":[{"entry_id":"` + predefinedEntry() + `","enabled":true,"entry_type":"predefined"}]}`, 200, nil},
		{"no entries", `{"name":"empty"}`, 200, nil},
		{"empty body", ``, 400, []string{"body"}},
		{"no name", `{"entries":[]}`, 400, []string{"body", "name"}},
		{"blank name", `{"name":"  "}`, 400, []string{"body", "name"}},
		{"name type", `{"name":5}`, 400, []string{"body", "name"}},
		{"bad regex", `{"name":"x","entries":[{"name":"e","enabled":true,"pattern":{"regex":"(unclosed"}}]}`, 400, []string{"body", "entries", "0", "pattern", "regex"}},
		{"perl only", `{"name":"x","entries":[{"name":"e","enabled":true,"pattern":{"regex":"a(?=b)"}}]}`, 400, []string{"body", "entries", "0", "pattern", "regex"}},
		{"empty match", `{"name":"x","entries":[{"name":"e","enabled":true,"pattern":{"regex":"a*"}}]}`, 400, []string{"body", "entries", "0", "pattern", "regex"}},
		{"long regex", `{"name":"x","entries":[{"name":"e","enabled":true,"pattern":{"regex":"` + long + `"}}]}`, 400, []string{"body", "entries", "0", "pattern", "regex"}},
		{"no regex", `{"name":"x","entries":[{"name":"e","enabled":true,"pattern":{}}]}`, 400, []string{"body", "entries", "0", "pattern", "regex"}},
		{"bad validation", `{"name":"x","entries":[{"name":"e","enabled":true,"pattern":{"regex":"a","validation":"mod97"}}]}`, 400, []string{"body", "entries", "0", "pattern", "validation"}},
		{"second entry", `{"name":"x","entries":[{"name":"a","pattern":{"regex":"a"}},{"name":"b","enabled":true}]}`, 400, []string{"body", "entries", "1", "pattern"}},
		{"entry name", `{"name":"x","entries":[{"enabled":true,"pattern":{"regex":"a"}}]}`, 400, []string{"body", "entries", "0", "name"}},
		{"both kinds", `{"name":"x","entries":[{"name":"e","pattern":{"regex":"a"},"words":["b"]}]}`, 400, []string{"body", "entries", "0"}},
		{"empty words", `{"name":"x","entries":[{"name":"e","words":[]}]}`, 400, []string{"body", "entries", "0", "words"}},
		{"blank word", `{"name":"x","entries":[{"name":"e","words":["ok"," "]}]}`, 400, []string{"body", "entries", "0", "words", "1"}},
		{"entries type", `{"name":"x","entries":{"name":"e"}}`, 400, []string{"body", "entries"}},
		{"unknown shared", `{"name":"x","shared_entries":[{"entry_id":"nope","enabled":true}]}`, 400, []string{"body", "shared_entries", "0", "entry_id"}},
		{"shared type", `{"name":"x","shared_entries":[{"entry_id":"` + predefinedEntry() + `","enabled":true,"entry_type":"exact_data"}]}`, 400, []string{"body", "shared_entries", "0", "entry_type"}},
		{"shared twice", `{"name":"x","shared_entries":[{"entry_id":"` + predefinedEntry() + `"},{"entry_id":"` + predefinedEntry() + `"}]}`, 400, []string{"body", "shared_entries", "1", "entry_id"}},
		{"match count", `{"name":"x","allowed_match_count":-1}`, 400, []string{"body", "allowed_match_count"}},
		{"confidence", `{"name":"x","confidence_threshold":"extreme"}`, 400, []string{"body", "confidence_threshold"}},
		{"context awareness", `{"name":"x","context_awareness":true}`, 400, []string{"body", "context_awareness"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			svc, log, _ := newSvc(t)
			p, err := svc.CreateDLPProfile(bg, actor, acct, []byte(c.body))
			if c.status != 200 {
				wantErr(t, err, c.status, config.CodeInvalid, c.path...)
				if len(log.Events) != 0 {
					t.Errorf("a refused write appended %d events", len(log.Events))
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := snap(svc).DLPProfile(acct, p.ID); !reflect.DeepEqual(got, p) {
				t.Errorf("read back %+v, want %+v", got, p)
			}
			if _, err := dlp.Compile([]dlp.Profile{p.Detector()}); err != nil {
				t.Errorf("stored profile does not compile: %v", err)
			}
			_, ev := decodeEvent(t, log.Events[0])
			if ev.Resource != config.ResDLPProfile || ev.Action != "create" || ev.ResourceID != p.ID || ev.AccountID != acct {
				t.Errorf("event %+v", ev)
			}
		})
	}
}

func TestDLPProfileLifecycle(t *testing.T) {
	svc, log, clk := newSvc(t)
	svc.KnownDLPProfile = func(a, id string) bool { return snap(svc).DLPProfile(a, id) != nil }
	p, err := svc.CreateDLPProfile(bg, actor, acct, []byte(`{"name":"Employee ids","description":"d",
		"entries":[{"name":"emp","enabled":true,"pattern":{"regex":"EMP-[0-9]{6}"}},{"name":"code","enabled":true,"words":["falcon"]}],
		"shared_entries":[{"entry_id":"`+predefinedEntry()+`","enabled":false}]}`))
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Entries) != 2 || p.Entries[0].Type != "custom" || p.Entries[1].Type != "word_list" || p.ConfidenceThreshold != "low" ||
		len(p.SharedEntries) != 1 || p.SharedEntries[0].Enabled || p.SharedEntries[0].EntryType != "predefined" {
		t.Fatalf("created %+v", p)
	}
	v1 := snap(svc).DLPProfilesVersion(acct)
	if v1 == 0 || snap(svc).DLPProfilesVersion("acc2") != 0 {
		t.Fatalf("versions %d / %d", v1, snap(svc).DLPProfilesVersion("acc2"))
	}
	det := p.Detector()
	if det.ID != p.ID || det.Type != "custom" || len(det.Entries) != 3 || det.Entries[0].Pattern != "EMP-[0-9]{6}" ||
		det.Entries[2].Type != "predefined" || det.Entries[2].Name == "" || det.Entries[2].Enabled {
		t.Errorf("detector %+v", det)
	}

	// Another account sees nothing; a second profile may not take the same name.
	if snap(svc).DLPProfile("acc2", p.ID) != nil || len(snap(svc).DLPProfiles("acc2")) != 0 {
		t.Error("profile visible from another account")
	}
	_, err = svc.UpdateDLPProfile(bg, actor, "acc2", p.ID, []byte(`{"name":"x"}`))
	wantErr(t, err, 404, config.CodeNotFound, "path", "profile_id")
	_, err = svc.CreateDLPProfile(bg, actor, acct, []byte(`{"name":"EMPLOYEE IDS"}`))
	wantErr(t, err, 409, config.CodeConflict, "body", "name")

	// Update: absent fields stay; entry_id keeps an entry's id; a new entry gets a new one;
	// an entry left out is dropped.
	clk.set(t0.Add(time.Hour))
	emp, code := p.Entries[0], p.Entries[1]
	u, err := svc.UpdateDLPProfile(bg, actor, acct, p.ID, []byte(`{"name":"Employee ids",
		"entries":[{"entry_id":"`+emp.ID+`","name":"emp","enabled":true,"pattern":{"regex":"EMP-[0-9]{7}"}},{"name":"badge","enabled":false,"pattern":{"regex":"BDG[0-9]+"}}]}`))
	if err != nil {
		t.Fatal(err)
	}
	if u.Description != "d" || len(u.Entries) != 2 || u.Entries[0].ID != emp.ID || u.Entries[0].CreatedAt != emp.CreatedAt ||
		!u.Entries[0].UpdatedAt.Equal(t0.Add(time.Hour)) || u.Entries[1].ID == code.ID || u.Entries[1].Enabled ||
		len(u.SharedEntries) != 1 || !u.CreatedAt.Equal(p.CreatedAt) || !u.UpdatedAt.Equal(t0.Add(time.Hour)) {
		t.Fatalf("updated %+v", u)
	}
	if v := snap(svc).DLPProfilesVersion(acct); v <= v1 {
		t.Errorf("version %d after update, was %d", v, v1)
	}
	// An entry unchanged keeps its updated_at.
	u2, err := svc.UpdateDLPProfile(bg, actor, acct, p.ID, []byte(`{"description":"e","entries":[{"entry_id":"`+emp.ID+`","name":"emp","enabled":true,"pattern":{"regex":"EMP-[0-9]{7}"}}]}`))
	if err != nil || !u2.Entries[0].UpdatedAt.Equal(u.Entries[0].UpdatedAt) || u2.Description != "e" {
		t.Fatalf("second update %+v %v", u2, err)
	}
	for _, c := range []struct {
		body string
		path []string
	}{
		{`{"entries":[{"entry_id":"` + code.ID + `","name":"gone","pattern":{"regex":"a"}}]}`, []string{"body", "entries", "0", "entry_id"}},
		{`{"entries":[{"entry_id":"` + emp.ID + `","name":"a","pattern":{"regex":"a"}},{"entry_id":"` + emp.ID + `","name":"b","pattern":{"regex":"b"}}]}`, []string{"body", "entries", "1", "entry_id"}},
		{`{"entries":[{"entry_id":"` + emp.ID + `","name":"a","pattern":{"regex":"[z-a]"}}]}`, []string{"body", "entries", "0", "pattern", "regex"}},
		{`{"name":""}`, []string{"body", "name"}},
	} {
		_, err := svc.UpdateDLPProfile(bg, actor, acct, p.ID, []byte(c.body))
		wantErr(t, err, 400, config.CodeInvalid, c.path...)
	}

	// In use by a gateway (even a disabled setting or policy): not deleted, the gateway named.
	mustGateway(t, svc, acct, `{"id":"gw-a","dlp":{"enabled":true,"action":"BLOCK","profiles":["`+p.ID+`"]}}`)
	mustGateway(t, svc, acct, `{"id":"gw-b","dlp":{"enabled":false,"policies":[{"id":"x","profiles":["`+p.ID+`"],"action":"FLAG","enabled":false}]}}`)
	if users := snap(svc).DLPProfileUsers(acct, p.ID); !reflect.DeepEqual(users, []string{"gw-a", "gw-b"}) {
		t.Errorf("users %v", users)
	}
	n := len(log.Events)
	_, err = svc.DeleteDLPProfile(bg, actor, acct, p.ID)
	wantErr(t, err, 409, config.CodeConflict, "path", "profile_id")
	if err == nil || !strings.Contains(err.Error(), "gw-a") || len(log.Events) != n {
		t.Errorf("delete in use: %v (%d events, was %d)", err, len(log.Events), n)
	}
	for _, gw := range []string{"gw-a", "gw-b"} {
		if _, err := svc.UpdateGateway(bg, actor, acct, gw, []byte(`{"dlp":{"enabled":false}}`)); err != nil {
			t.Fatal(err)
		}
	}
	vBefore := snap(svc).DLPProfilesVersion(acct)
	if _, err := svc.DeleteDLPProfile(bg, actor, acct, p.ID); err != nil {
		t.Fatal(err)
	}
	if snap(svc).DLPProfile(acct, p.ID) != nil || snap(svc).DLPProfilesVersion(acct) <= vBefore {
		t.Error("deleted profile still there, or version unchanged")
	}
	_, err = svc.DeleteDLPProfile(bg, actor, acct, p.ID)
	wantErr(t, err, 404, config.CodeNotFound, "path", "profile_id")
	// A gateway can no longer name it.
	_, err = svc.UpdateGateway(bg, actor, acct, "gw-a", []byte(`{"dlp":{"enabled":true,"action":"FLAG","profiles":["`+p.ID+`"]}}`))
	wantErr(t, err, 400, config.CodeInvalid, "body", "dlp", "profiles")
}

func TestDLPProfileReplay(t *testing.T) {
	svc, log, clk := newSvc(t)
	var kept *config.DLPProfile
	for i, body := range []string{`{"name":"a","entries":[{"name":"e","pattern":{"regex":"x[0-9]+"}}]}`, `{"name":"b"}`, `{"name":"c","entries":[{"name":"w","words":["w"]}]}`} {
		clk.set(t0.Add(time.Duration(i) * time.Minute))
		p, err := svc.CreateDLPProfile(bg, actor, acct, []byte(body))
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			kept = p
		}
		if i == 1 {
			if _, err := svc.DeleteDLPProfile(bg, actor, acct, p.ID); err != nil {
				t.Fatal(err)
			}
		}
	}
	if _, err := svc.UpdateDLPProfile(bg, actor, acct, kept.ID, []byte(`{"ocr_enabled":true,"context_awareness":{"enabled":true,"skip":{"files":true}}}`)); err != nil {
		t.Fatal(err)
	}
	want := snap(svc).DLPProfiles(acct)
	if len(want) != 2 || want[0].Name != "a" || want[1].Name != "c" || !want[0].OCREnabled || len(want[0].ContextAwareness) == 0 {
		t.Fatalf("profiles %+v", want)
	}
	sealer, _ := config.NewSealer(make([]byte, 32))
	p := config.NewProjection(log, sealer, nil)
	for _, m := range log.Events {
		if err := p.Apply(m); err != nil {
			t.Fatal(err)
		}
	}
	if got := p.Current().DLPProfiles(acct); !reflect.DeepEqual(got, want) {
		t.Errorf("replayed profiles differ:\n%+v\n%+v", got, want)
	}
	if p.Current().DLPProfilesVersion(acct) != snap(svc).DLPProfilesVersion(acct) {
		t.Error("replayed version differs")
	}
	if a := p.Audit(config.AuditQuery{ResourceType: "dlp_profile"}); len(a) != 5 {
		t.Errorf("audit entries %d, want 5", len(a))
	}
}

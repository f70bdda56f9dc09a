// dlp_profiles_test.go drives the account's DLP profiles API with cloudflare-go's zero_trust
// client, unchanged: it lists the predefined profiles, creates a custom profile (a regex and a
// word list), uses it in a gateway's dlp policy and shows a matching request blocked with 2029
// before reaching the provider, then updates the profile (the gateway's compiled policies
// follow at once), is refused deleting it while the gateway uses it, and deletes it.
package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/cloudflare/cloudflare-go/v7"
	"github.com/cloudflare/cloudflare-go/v7/option"
	"github.com/cloudflare/cloudflare-go/v7/zero_trust"
	"github.com/openai/openai-go/v3"
	oaoption "github.com/openai/openai-go/v3/option"
	"github.com/switchyard/switchyard/engine/dlp"
	"github.com/switchyard/switchyard/mock"
)

func TestDLPProfilesAPI(t *testing.T) {
	oa := mock.NewOpenAI()
	defer oa.Close()
	g := startGateway(t, "", []string{"SWITCHYARD_UPSTREAM_OPENAI=" + oa.URL})
	ctx := context.Background()
	profiles := g.API().ZeroTrust.DLP.Profiles
	acct := cloudflare.F(account)
	var apiErr *cloudflare.Error

	// The predefined profiles, with their entries.
	list, err := profiles.List(ctx, zero_trust.DLPProfileListParams{AccountID: acct})
	if err != nil {
		t.Fatal(err)
	}
	predefined := dlp.Predefined()
	if len(list.Result) != len(predefined) {
		t.Fatalf("listed %d profiles, want the %d predefined ones", len(list.Result), len(predefined))
	}
	for i, p := range list.Result {
		pp, isPredefined := p.AsUnion().(zero_trust.ProfilePredefinedProfile)
		if !isPredefined || p.Type != zero_trust.ProfileTypePredefined || p.ID != predefined[i].ID || p.Name != predefined[i].Name ||
			len(pp.Entries) != len(predefined[i].Entries) {
			t.Fatalf("profile %d: %T %+v", i, p.AsUnion(), p)
		}
		e := pp.Entries[0]
		if e.ID != predefined[i].Entries[0].ID || !e.Enabled || e.Type != zero_trust.ProfilePredefinedProfileEntriesTypePredefined || e.ProfileID != p.ID || e.Name == "" {
			t.Fatalf("entry %+v", e)
		}
	}
	fin := predefined[0]
	pc, err := profiles.Predefined.Get(ctx, fin.ID, zero_trust.DLPProfilePredefinedGetParams{AccountID: acct})
	if err != nil || pc.Name != fin.Name || len(pc.EnabledEntries) != len(fin.Entries) {
		t.Fatalf("predefined get: %+v %v", pc, err)
	}
	// Predefined profiles stay as they are: turning an entry off is refused with the way out.
	_, err = profiles.Predefined.Update(ctx, fin.ID, zero_trust.DLPProfilePredefinedUpdateParams{AccountID: acct,
		Entries: cloudflare.F([]zero_trust.DLPProfilePredefinedUpdateParamsEntry{{ID: cloudflare.F(fin.Entries[0].ID), Enabled: cloudflare.F(false)}})})
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 400 || !strings.Contains(apiErr.Error(), "shared_entries") {
		t.Fatalf("predefined update: %v", err)
	}

	// A bad regex is refused naming the field.
	_, err = profiles.Custom.New(ctx, zero_trust.DLPProfileCustomNewParams{AccountID: acct, Name: cloudflare.F("bad"),
		Entries: cloudflare.F([]zero_trust.DLPProfileCustomNewParamsEntryUnion{zero_trust.DLPProfileCustomNewParamsEntriesDLPNewCustomEntry{
			Enabled: cloudflare.F(true), Name: cloudflare.F("e"), Pattern: cloudflare.F(zero_trust.PatternParam{Regex: cloudflare.F("EMP-(")})}})})
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 400 || !strings.Contains(apiErr.Error(), "entries[0].pattern.regex") {
		t.Fatalf("bad regex: %v", err)
	}

	// A custom profile: a regex and a word list.
	created, err := profiles.Custom.New(ctx, zero_trust.DLPProfileCustomNewParams{AccountID: acct, Name: cloudflare.F("Employee data"),
		Description: cloudflare.F("internal identifiers"),
		Entries: cloudflare.F([]zero_trust.DLPProfileCustomNewParamsEntryUnion{
			zero_trust.DLPProfileCustomNewParamsEntriesDLPNewCustomEntry{Enabled: cloudflare.F(true), Name: cloudflare.F("Employee id"),
				Pattern: cloudflare.F(zero_trust.PatternParam{Regex: cloudflare.F(`EMP-[0-9]{6}`)})},
			zero_trust.DLPProfileCustomNewParamsEntriesDLPNewWordListEntry{Enabled: cloudflare.F(true), Name: cloudflare.F("Code names"),
				Words: cloudflare.F([]string{"Project Falcon"})},
		})})
	if err != nil {
		t.Fatal(err)
	}
	custom, isCustom := created.AsUnion().(zero_trust.ProfileCustomProfile)
	if !isCustom || created.Type != zero_trust.ProfileTypeCustom || len(custom.Entries) != 2 || custom.CreatedAt.IsZero() {
		t.Fatalf("created %T %+v", created.AsUnion(), created)
	}
	regexEntry, isRegex := custom.Entries[0].AsUnion().(zero_trust.ProfileCustomProfileEntriesCustomEntry)
	if !isRegex || regexEntry.Pattern.Regex != `EMP-[0-9]{6}` || !regexEntry.Enabled || regexEntry.ProfileID != created.ID {
		t.Fatalf("regex entry %T %+v", custom.Entries[0].AsUnion(), custom.Entries[0])
	}
	if wl, isWords := custom.Entries[1].AsUnion().(zero_trust.ProfileCustomProfileEntriesWordListEntry); !isWords || wl.Name != "Code names" {
		t.Fatalf("word list entry %T %+v", custom.Entries[1].AsUnion(), custom.Entries[1])
	}
	got, err := profiles.Get(ctx, created.ID, zero_trust.DLPProfileGetParams{AccountID: acct})
	if err != nil || got.ID != created.ID || got.Name != "Employee data" || got.Description != "internal identifiers" {
		t.Fatalf("get: %+v %v", got, err)
	}
	if list, err = profiles.List(ctx, zero_trust.DLPProfileListParams{AccountID: acct}); err != nil || len(list.Result) != len(predefined)+1 ||
		list.Result[len(predefined)].ID != created.ID {
		t.Fatalf("list with the custom profile: %v %v", list, err)
	}

	// A read token lists and reads; only an edit token writes.
	st, env := apiCall(t, g, token, "POST", "/tokens", map[string]any{"name": "reader", "permissions": []string{"read"}})
	if st != 200 {
		t.Fatalf("token: %d %v", st, env)
	}
	reader := cloudflare.NewClient(option.WithBaseURL(g.URL+"/client/v4/"), option.WithAPIToken(env["result"].(map[string]any)["value"].(string)), option.WithMaxRetries(0))
	if _, err := reader.ZeroTrust.DLP.Profiles.Custom.Get(ctx, created.ID, zero_trust.DLPProfileCustomGetParams{AccountID: acct}); err != nil {
		t.Fatalf("read token get: %v", err)
	}
	_, err = reader.ZeroTrust.DLP.Profiles.Custom.Delete(ctx, created.ID, zero_trust.DLPProfileCustomDeleteParams{AccountID: acct})
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 403 {
		t.Fatalf("read token delete: %v", err)
	}

	// Used by the gateway's dlp policy: a request matching the regex, or a listed word, is
	// blocked with 2029 and never reaches the provider.
	if code, env := apiCall(t, g, token, "PUT", "/ai-gateway/gateways/"+gateway,
		json.RawMessage(`{"dlp":{"enabled":true,"action":"BLOCK","profiles":["`+created.ID+`"]}}`)); code != 200 {
		t.Fatalf("PUT dlp: %d %v", code, env)
	}
	client := openai.NewClient(oaoption.WithBaseURL(g.Base("openai")), oaoption.WithAPIKey("sk-test"), oaoption.WithMaxRetries(0))
	ask := func(text string) error {
		_, err := client.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{Model: "gpt-4o-mini",
			Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage(text)}})
		return err
	}
	blocked := func(text, entryID string) {
		t.Helper()
		sent := len(oa.Requests())
		err := ask(text)
		var oe *openai.Error
		if !errors.As(err, &oe) || oe.StatusCode != 400 || !strings.Contains(sdkBody(err), `"code":2029`) {
			t.Fatalf("%q: want 2029, got %v", text, err)
		}
		d := parseDLPHeader(t, oe.Response.Header)
		if d.Action != "BLOCK" || len(d.Findings) != 1 || d.Findings[0].Profile.ProfileID != created.ID || !slices.Contains(d.Findings[0].Profile.EntryIDs, entryID) {
			t.Fatalf("%q: cf-aig-dlp %+v", text, d)
		}
		if len(oa.Requests()) != sent {
			t.Fatalf("%q: a blocked request reached the provider", text)
		}
	}
	blocked("my employee id is EMP-123456", regexEntry.ID)
	blocked("status of project falcon?", custom.Entries[1].ID)
	if err := ask("nothing to see here, EMP-12"); err != nil {
		t.Fatalf("clean request: %v", err)
	}

	// Deleting it while the gateway uses it: 409 naming the gateway.
	_, err = profiles.Custom.Delete(ctx, created.ID, zero_trust.DLPProfileCustomDeleteParams{AccountID: acct})
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 409 || !strings.Contains(apiErr.Error(), gateway) {
		t.Fatalf("delete in use: %v", err)
	}

	// Update: the regex entry (kept by entry_id) now wants 7 digits and the word list is gone;
	// the gateway's next request is checked with the new profile.
	updated, err := profiles.Custom.Update(ctx, created.ID, zero_trust.DLPProfileCustomUpdateParams{AccountID: acct, Name: cloudflare.F("Employee data"),
		Entries: cloudflare.F([]zero_trust.DLPProfileCustomUpdateParamsEntryUnion{zero_trust.DLPProfileCustomUpdateParamsEntriesDLPNewCustomEntryWithID{
			EntryID: cloudflare.F(regexEntry.ID), Enabled: cloudflare.F(true), Name: cloudflare.F("Employee id"),
			Pattern: cloudflare.F(zero_trust.PatternParam{Regex: cloudflare.F(`EMP-[0-9]{7}`)})}})})
	if err != nil {
		t.Fatal(err)
	}
	uc := updated.AsUnion().(zero_trust.ProfileCustomProfile)
	if len(uc.Entries) != 1 || uc.Entries[0].ID != regexEntry.ID || uc.Entries[0].Pattern.Regex != `EMP-[0-9]{7}` || uc.Description != "internal identifiers" {
		t.Fatalf("updated %+v", updated)
	}
	if err := ask("my employee id is EMP-123456, project falcon"); err != nil {
		t.Fatalf("no longer sensitive after the update: %v", err)
	}
	blocked("my employee id is EMP-1234567", regexEntry.ID)

	// A restart rebuilds it from the config stream.
	g.Stop()
	g.Restart()
	if cg, err := g.API().ZeroTrust.DLP.Profiles.Custom.Get(ctx, created.ID, zero_trust.DLPProfileCustomGetParams{AccountID: acct}); err != nil || cg.Name != "Employee data" {
		t.Fatalf("after restart: %+v %v", cg, err)
	}
	client = openai.NewClient(oaoption.WithBaseURL(g.Base("openai")), oaoption.WithAPIKey("sk-test"), oaoption.WithMaxRetries(0))
	blocked("my employee id is EMP-1234567", regexEntry.ID)

	// Released by the gateway, it is deleted.
	if code, env := apiCall(t, g, token, "PUT", "/ai-gateway/gateways/"+gateway, json.RawMessage(`{"dlp":{"enabled":false}}`)); code != 200 {
		t.Fatalf("PUT dlp off: %d %v", code, env)
	}
	if _, err := g.API().ZeroTrust.DLP.Profiles.Custom.Delete(ctx, created.ID, zero_trust.DLPProfileCustomDeleteParams{AccountID: acct}); err != nil {
		t.Fatal(err)
	}
	_, err = g.API().ZeroTrust.DLP.Profiles.Get(ctx, created.ID, zero_trust.DLPProfileGetParams{AccountID: acct})
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 404 {
		t.Fatalf("deleted profile: %v", err)
	}
	if code, _ := apiCall(t, g, token, "PUT", "/ai-gateway/gateways/"+gateway,
		json.RawMessage(`{"dlp":{"enabled":true,"action":"BLOCK","profiles":["`+created.ID+`"]}}`)); code != 400 {
		t.Fatalf("a deleted profile in a policy: %d", code)
	}
}

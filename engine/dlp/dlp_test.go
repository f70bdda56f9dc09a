// dlp_test.go: table tests of every built-in entry (true positives and near-miss negatives),
// custom entries, findings shape and redaction.
package dlp

import (
	"bytes"
	"slices"
	"strings"
	"testing"
)

func allScanner(t testing.TB) *Scanner {
	t.Helper()
	s, err := Compile(Predefined())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// detsOf returns the names of the built-in entries found in text.
func detsOf(s *Scanner, text string) []string {
	var names []string
	for _, f := range s.Scan([]byte(text)) {
		for _, id := range f.EntryIDs {
			if d, ok := builtinByID[id]; ok {
				names = append(names, builtins[d].name)
			} else {
				names = append(names, id)
			}
		}
	}
	slices.Sort(names)
	return slices.Compact(names)
}

func TestBuiltinEntries(t *testing.T) {
	s := allScanner(t)
	cases := []struct {
		d    det
		pos  []string
		negs []string
	}{
		{detVisa, []string{"card 4111 1111 1111 1111 exp", "4111-1111-1111-1111", "4111111111111111", "pay with 4012888888881881.", "order 12 4111 1111 1111 1111"},
			[]string{"4111 1111 1111 1112", "41111111111111111", "4111 1111 1111", "x4111111111111111"}},
		{detMastercard, []string{"5555 5555 5555 4444", "2223003122003222"}, []string{"5555 5555 5555 4445", "5655 5555 5555 4444"}},
		{detAmex, []string{"3782 822463 10005", "378282246310005"}, []string{"378282246310006"}},
		{detDiscover, []string{"6011 1111 1111 1117"}, []string{"6011 1111 1111 1118"}},
		{detJCB, []string{"3530 1113 3330 0000"}, []string{"3530 1113 3330 0001"}},
		{detDiners, []string{"3056 930902 5904"}, []string{"3056 930902 5905"}},
		{detUnionPay, []string{"6200 0000 0000 0005"}, []string{"6200 0000 0000 0006"}},
		{detIBAN, []string{"IBAN DE89 3704 0044 0532 0130 00.", "GB82 WEST 1234 5698 7654 32", "NL91ABNA0417164300", "FR14 2004 1010 0505 0001 3M02 606"},
			[]string{"GB82 WEST 1234 5698 7654 33", "DE89 3704 0044 0532 0130 0", "NL91ABNA04171643001", "XX89 3704 0044 0532 0130 00", "gb82 west 1234 5698 7654 32"}},
		{detABA, []string{"routing number 021000021", "021000021 is the ABA", "ABA/RTN: 011000015"},
			[]string{"021000021", "routing number 021000022", "routing 131000021"}},

		{detEmail, []string{"mail jane.doe+x@example.co.uk now", "a@b.io"}, []string{"jane@localhost", "user@example.c", "@example.com", "x@1.2.3.4"}},
		{detPhoneE164, []string{"+14155552671", "call +44 20 7946 0958", "+49 30 12345678", "+91 98765 43210", "+44 (0)20 7946 0958"},
			[]string{"+1234567", "2+14155552671x", "+0 415 555 2671"}},
		{detPhoneNANP, []string{"(415) 555-2671", "415-555-2671", "415.555.2671", "1-415-555-2671", "415 555 2671"},
			[]string{"4155552671", "115-555-2671", "415-155-2671", "415-555-267", "415-555.2671"}},
		{detPhoneUK, []string{"020 7946 0958", "07700 900123", "0161 496 0000", "(020) 7946 0958"}, []string{"02079460958", "020 7946 095", "090 7946 0958"}},
		{detPhoneDE, []string{"030 12345678", "0151 23456789", "089/1234567"}, []string{"03012345678", "030 12", "000 12345678"}},
		{detPhoneFR, []string{"01 23 45 67 89", "06.12.34.56.78"}, []string{"00 23 45 67 89", "01 23 45 67", "0123456789"}},
		{detPhoneIN, []string{"98765 43210"}, []string{"58765 43210", "9876543210"}},
		{detUSAddress, []string{"lives at 1600 Pennsylvania Avenue NW", "221B Baker Street", "350 Fifth Ave", "10 W 5th St"},
			[]string{"I have 3 big dogs on the street", "1600 pennsylvania avenue", "Main Street"}},

		{detSSN, []string{"SSN 123-45-6789", "123 45 6789", "my ssn is 123456789", "123456789 (SSN)"},
			[]string{"000-12-3456", "666-12-3456", "123-00-4567", "123-45-0000", "123456789", "123-45-67890", "123-45 6789", "1-123-45-6789"}},
		{detITIN, []string{"ITIN 912-70-1234", "912 91 1234"}, []string{"912-40-1234", "912-93-1234"}},
		{detPassportUSUK, []string{"passport 123456789", "Passport no. A12345678"}, []string{"123456789", "passport 12345678"}},
		{detPassportCA, []string{"passport: AB123456"}, []string{"AB123456", "passport: AB12345"}},
		{detPassportDE, []string{"Reisepass C01X00T47"}, []string{"C01X00T47", "Reisepass C01A00T47"}},
		{detPassportFR, []string{"passeport 09AA12345"}, []string{"09AA12345"}},
		{detPassportIN, []string{"passport J8369854"}, []string{"J8369854"}},
		{detDrivingUK, []string{"MORGA657054SM9IJ"}, []string{"MORGA657954SM9IJ", "MORGA657054SM9I1"}},
		{detDriving, []string{"driver's license D1234567", "DL 123456789", "licence number 12345678"}, []string{"D1234567", "license D12"}},
		{detNINO, []string{"NI AB123456C", "AB 12 34 56 C"}, []string{"QQ123456C", "AB123456E", "GB123456A", "AB12345C"}},
		{detSIN, []string{"SIN 130 692 544", "130-692-544", "social insurance 130692544"}, []string{"130 692 545", "830 692 548", "130692544"}},
		{detAadhaar, []string{"2341 2341 2346", "aadhaar 234123412346"}, []string{"2341 2341 2347", "1341 2341 2346", "234123412346"}},
		{detNIR, []string{"185057800608491", "1 85 05 78 006 084 91"}, []string{"185057800608492", "585057800608491"}},
		{detDNI, []string{"DNI 12345678Z", "12345678-Z"}, []string{"12345678A", "123456789Z"}},
		{detNIE, []string{"NIE X1234567L", "Y1234567X"}, []string{"X1234567A", "W1234567L"}},
		{detCodiceFiscale, []string{"CF RSSMRA85T10A562S", "BNZVCN32S10E573Z"}, []string{"RSSMRA85T10A562T", "RSSMRA85X10A562S"}},
		{detBSN, []string{"BSN 111222333", "burgerservicenummer: 1112.22.333"}, []string{"111222333", "BSN 111222334"}},

		{detMBI, []string{"MBI 1EG4-TE5-MK73", "1EG4TE5MK73"}, []string{"1EG4-TE5-MK7", "1SG4TE5MK73", "0EG4TE5MK73"}},
		{detNHS, []string{"NHS number 943 476 5919", "9434765919 (NHS)"}, []string{"943 476 5919", "NHS 943 476 5918"}},
		{detNPI, []string{"NPI 1234567893", "National Provider Identifier: 1234567893"}, []string{"1234567893", "NPI 1234567894", "NPI 3234567893"}},
		{detMRN, []string{"MRN 00123456", "medical record number: 4567891", "patient ID A123456"}, []string{"00123456", "MRN 123", "medical 4567891 later"}},

		{detOpenAI, []string{"sk-proj-Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4zAb7cDe0fGh3i", "key=sk-A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8S9t0U1v2W3x4"},
			[]string{"sk-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", "sk-your-api-key-here-please", "task-Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4z", "sk-Ab3d"}},
		{detAnthropic, []string{"sk-ant-api03-Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4zAb7cDe0fGh3iJk6lMn9o"}, []string{"sk-ant-api03-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"}},
		{detGoogleAPI, []string{"AIzaSyA1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q"}, []string{"AIzaSyA1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6", "AIzaSyA1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6QR"}},
		{detAWSKeyID, []string{"AKIAIOSFODNN7EXAMPLE", "ASIAY34FZKBOKMUTVV7A"}, []string{"AKIAIOSFODNN7EXAMPL", "AKIAIOSFODNN7EXAMPLEX", "akiaiosfodnn7example"}},
		{detAWSSecret, []string{"aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "AKIAIOSFODNN7EXAMPLE wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"},
			[]string{"wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "aws secret wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEYX"}},
		{detGitHub, []string{"ghp_A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8", "github_pat_11ABCDEFG0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789ab"},
			[]string{"ghp_short", "ghx_A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8"}},
		{detSlack, []string{"xoxb-1234567890-0987654321-AbCdEfGhIjKlMnOpQrStUvWx", "xapp-1-A0123456789-1234567890123-abcdef"}, []string{"xoxb-abcdefghijkl", "xoxz-1234567890-0987654321"}},
		{detStripe, []string{"sk_live_A1b2C3d4E5f6G7h8I9j0K1l2", "rk_live_A1b2C3d4E5f6G7h8I9j0K1l2"}, []string{"sk_test_A1b2C3d4E5f6G7h8I9j0K1l2", "sk_live_short"}},
		{detPrivateKey, []string{"-----BEGIN RSA PRIVATE KEY-----\nMIIEow...\n-----END RSA PRIVATE KEY-----", "-----BEGIN PRIVATE KEY-----", "-----BEGIN OPENSSH PRIVATE KEY-----"},
			[]string{"-----BEGIN PUBLIC KEY-----", "-----BEGIN CERTIFICATE-----", "----BEGIN PRIVATE KEY-----"}},
		{detJWT, []string{"Bearer eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"},
			[]string{"eyJzdWIiOiIxMjM0NTY3ODkwIn0.eyJzdWIiOiIxMjM0NTY3ODkwIn0.abc", "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9", "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.a.b.c"}},
	}
	seen := map[det]bool{}
	for _, c := range cases {
		seen[c.d] = true
		name := builtins[c.d].name
		for _, p := range c.pos {
			if got := detsOf(s, p); !slices.Contains(got, name) {
				t.Errorf("%s: %q not found (got %v)", name, p, got)
			}
		}
		for _, n := range c.negs {
			if got := detsOf(s, n); slices.Contains(got, name) {
				t.Errorf("%s: near miss %q matched (got %v)", name, n, got)
			}
		}
	}
	for d := det(0); d < numDets; d++ {
		if !seen[d] {
			t.Errorf("no test cases for %s", builtins[d].name)
		}
	}
}

// Ordinary prose, code and numbers must not trip anything.
func TestNoFalsePositives(t *testing.T) {
	s := allScanner(t)
	for _, text := range []string{
		ordinaryText,
		"The meeting is on 2024-01-15 at 10:30. Version 1.2.3 of the library costs $1,234.56.",
		"Order #123456 shipped; tracking 1Z999AA10123456784. Call me later.",
		"IP 192.168.1.1, port 8080, pid 12345, unix time 1700000000, 3.14159265358979",
		"func main() { x := []int{1, 2, 3}; fmt.Println(len(x)) } // sk-placeholder",
		"See https://example.com/docs?id=42&page=7#section-3 for more.",
		"The UUID 550e8400-e29b-41d4-a716-446655440000 identifies the request.",
		"sha256: 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
	} {
		if got := detsOf(s, text); len(got) != 0 {
			t.Errorf("%q: unexpected %v", text, got)
		}
	}
}

func TestPredefinedStable(t *testing.T) {
	a, b := Predefined(), Predefined()
	if len(a) != 5 {
		t.Fatalf("%d profiles", len(a))
	}
	ids := map[string]bool{}
	n := 0
	for i := range a {
		if a[i].ID != b[i].ID || len(a[i].Entries) != len(b[i].Entries) {
			t.Fatal("not stable")
		}
		for _, id := range append([]string{a[i].ID}, entryIDs(a[i])...) {
			if ids[id] || len(id) != 36 {
				t.Fatalf("bad or duplicate id %q", id)
			}
			ids[id] = true
		}
		n += len(a[i].Entries)
	}
	if n != int(numDets) {
		t.Fatalf("%d entries in profiles, %d detectors", n, numDets)
	}
	if a[0].Name != "Financial Information" || a[1].Name != "Personal Identifiable Information" ||
		a[2].Name != "Government Identifiers" || a[3].Name != "Healthcare Information" || a[4].Name != "Credentials and Secrets" {
		t.Fatal("names")
	}
	// a fixed id must never change
	if a[0].Entries[0].ID != "f86f63f6-7079-43fe-a906-2dead364855d" {
		t.Fatal("Visa id changed")
	}
}

func entryIDs(p Profile) (ids []string) {
	for _, e := range p.Entries {
		ids = append(ids, e.ID)
	}
	return
}

func TestFindingsShape(t *testing.T) {
	s := allScanner(t)
	f := s.Scan([]byte("card 4111 1111 1111 1111 and 5555 5555 5555 4444, again 4111111111111111; mail a@b.io; key AKIAIOSFODNN7EXAMPLE"))
	if len(f) != 3 {
		t.Fatalf("%+v", f)
	}
	if !slices.IsSortedFunc(f, func(a, b Finding) int { return strings.Compare(a.ProfileID, b.ProfileID) }) {
		t.Fatal("not sorted")
	}
	for _, x := range f {
		if !slices.IsSorted(x.EntryIDs) || len(slices.Compact(slices.Clone(x.EntryIDs))) != len(x.EntryIDs) {
			t.Fatal("entry ids not sorted/unique")
		}
		if x.ProfileID == ProfileFinancial && len(x.EntryIDs) != 2 {
			t.Fatalf("%+v", x)
		}
	}
	if s.Scan([]byte("nothing to see here")) != nil {
		t.Fatal("want nil")
	}
}

func TestDisabledEntriesAndProfiles(t *testing.T) {
	ps := Predefined()
	for i := range ps[0].Entries {
		ps[0].Entries[i].Enabled = ps[0].Entries[i].ID != builtins[detVisa].id
	}
	s, err := Compile(ps[:1])
	if err != nil {
		t.Fatal(err)
	}
	if f := s.Scan([]byte("4111 1111 1111 1111 a@b.io")); f != nil {
		t.Fatalf("disabled visa / profile not compiled: %+v", f)
	}
	if f := s.Scan([]byte("5555 5555 5555 4444")); len(f) != 1 {
		t.Fatalf("%+v", f)
	}
	empty, _ := Compile(nil)
	if empty.Enabled() || empty.Scan([]byte("4111 1111 1111 1111")) != nil {
		t.Fatal("empty scanner")
	}
}

func TestCustomEntries(t *testing.T) {
	ps := []Profile{{ID: "p-custom", Name: "Project", Type: TypeCustom, Entries: []Entry{
		{ID: "e-regex", Enabled: true, Type: TypeCustom, Pattern: `PRJ-\d{4}`},
		{ID: "e-words", Enabled: true, Type: TypeWordList, Words: []string{"Falcon", "blue moon", "Überflieger"}},
		{ID: "e-off", Enabled: false, Type: TypeCustom, Pattern: `(`},
		{ID: builtins[detEmail].id, Enabled: true, Type: TypePredefined},
	}}}
	s, err := Compile(ps)
	if err != nil {
		t.Fatal(err)
	}
	check := func(text string, want ...string) {
		t.Helper()
		var got []string
		for _, f := range s.Scan([]byte(text)) {
			got = append(got, f.EntryIDs...)
		}
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("%q: got %v want %v", text, got, want)
		}
	}
	check("see PRJ-1234 now", "e-regex")
	check("operation FALCON and a Blue Moon", "e-words")
	check("falconry and prj-1234", []string{}...)
	check("das überflieger team, x@y.org", "e-words", builtins[detEmail].id)

	for _, bad := range []Entry{
		{ID: "bad-re", Enabled: true, Type: TypeCustom, Pattern: `a(`},
		{ID: "empty-re", Enabled: true, Type: TypeCustom, Pattern: `a*`},
		{ID: "bad-type", Enabled: true, Type: "exact_data"},
		{ID: "00000000-0000-0000-0000-000000000000", Enabled: true, Type: TypePredefined},
	} {
		_, err := Compile([]Profile{{ID: "p", Entries: []Entry{bad}}})
		if err == nil || !strings.Contains(err.Error(), bad.ID) || (bad.Pattern != "" && !strings.Contains(err.Error(), bad.Pattern)) {
			t.Errorf("%s: err %v", bad.ID, err)
		}
	}
}

func TestRedact(t *testing.T) {
	ps := append(Predefined(), Profile{ID: "c", Entries: []Entry{{ID: "w", Enabled: true, Type: TypeWordList, Words: []string{"secretword"}}}})
	s, err := Compile(ps)
	if err != nil {
		t.Fatal(err)
	}
	in := []byte("Card 4111 1111 1111 1111, mail jane@example.com, key AKIAIOSFODNN7EXAMPLE, the secretword. Fine.")
	out, f := s.Redact(in)
	if len(out) != len(in) || len(f) != 4 {
		t.Fatalf("%q %+v", out, f)
	}
	want := "Card *******************, mail ****************, key ********************, the **********. Fine."
	if string(out) != want {
		t.Fatalf("got  %q\nwant %q", out, want)
	}
	if string(in) == string(out) {
		t.Fatal("input modified or not redacted")
	}
	plain := []byte("nothing here")
	o2, f2 := s.Redact(plain)
	if &o2[0] != &plain[0] || f2 != nil {
		t.Fatal("no-match redact should return the input")
	}
	pem := []byte("x -----BEGIN EC PRIVATE KEY-----\nabc\n-----END EC PRIVATE KEY----- y")
	o3, _ := s.Redact(pem)
	if !bytes.Equal(o3, []byte("x "+strings.Repeat("*", len(pem)-4)+" y")) {
		t.Fatalf("%q", o3)
	}
}

func TestConcurrentScan(t *testing.T) {
	s := allScanner(t)
	done := make(chan bool)
	for g := 0; g < 4; g++ {
		go func() {
			for i := 0; i < 200; i++ {
				if len(s.Scan([]byte(findingsText))) == 0 {
					t.Error("missing")
				}
			}
			done <- true
		}()
	}
	for g := 0; g < 4; g++ {
		<-done
	}
}

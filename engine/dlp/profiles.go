// profiles.go: the built-in ("predefined") profiles and their entries, with ids fixed forever.
// Every built-in detector has a constant below; the ids are hard-coded UUIDs that appear in
// findings, logs and the cf-aig-dlp header, so never change or reuse one.
package dlp

// det identifies one built-in detector (one predefined entry).
type det uint8

const (
	detVisa det = iota
	detMastercard
	detAmex
	detDiscover
	detJCB
	detDiners
	detUnionPay
	detIBAN
	detABA

	detEmail
	detPhoneE164
	detPhoneNANP
	detPhoneUK
	detPhoneDE
	detPhoneFR
	detPhoneIN
	detUSAddress

	detSSN
	detITIN
	detPassportUSUK
	detPassportCA
	detPassportDE
	detPassportFR
	detPassportIN
	detDrivingUK
	detDriving
	detNINO
	detSIN
	detAadhaar
	detNIR
	detDNI
	detNIE
	detCodiceFiscale
	detBSN

	detMBI
	detNHS
	detNPI
	detMRN

	detOpenAI
	detAnthropic
	detGoogleAPI
	detAWSKeyID
	detAWSSecret
	detGitHub
	detSlack
	detStripe
	detPrivateKey
	detJWT

	numDets
)

// Profile ids of the built-in profiles.
const (
	ProfileFinancial   = "b59a9b21-563a-45b6-8663-b92016e94072"
	ProfilePII         = "cf8d7b4c-8acf-4dc7-8432-029ed7a90e9b"
	ProfileGovernment  = "2e2d0feb-d4f7-4078-ad01-414ab9ab755d"
	ProfileHealthcare  = "d7e5a47c-409f-46d3-b61f-9081b6498e9a"
	ProfileCredentials = "2b053d3e-bb15-4eeb-a12c-0fe9ce9467aa"
)

type builtin struct {
	id, name string
}

// builtins is indexed by det.
var builtins = [numDets]builtin{
	detVisa:       {"f86f63f6-7079-43fe-a906-2dead364855d", "Visa Card Number"},
	detMastercard: {"a76edbce-b1cb-48d3-9ea0-34acfe6e2ad4", "Mastercard Card Number"},
	detAmex:       {"5ba7957f-7bde-472b-bf97-f164338b2562", "American Express Card Number"},
	detDiscover:   {"9b0ce751-d350-4b5d-8f1d-fb544caa1045", "Discover Card Number"},
	detJCB:        {"0db73652-d6e6-4854-8a7e-b46b48a5df72", "JCB Card Number"},
	detDiners:     {"cb4a4ec6-e8a8-4ab3-b816-78c3a4d757f1", "Diners Club Card Number"},
	detUnionPay:   {"3ac6a482-f176-4e14-8c8b-722e661037cf", "UnionPay Card Number"},
	detIBAN:       {"15cb28ec-f5de-4844-9af0-edcdec0db9dd", "IBAN"},
	detABA:        {"1b06212e-90c1-4e91-856b-1c6077e1d5b5", "US ABA Routing Number"},

	detEmail:     {"491058a9-a0df-4e99-9264-4c3bc104cfd7", "Email Address"},
	detPhoneE164: {"8d960409-12a9-4446-bdda-1760588f6394", "Phone Number (International, E.164)"},
	detPhoneNANP: {"34e32da9-49b8-4487-b337-92955e7c31cf", "Phone Number (US and Canada)"},
	detPhoneUK:   {"7dcb6024-ce86-4a4e-ada2-32ead57e2db5", "Phone Number (UK)"},
	detPhoneDE:   {"ef280583-6a61-4974-b09e-d62686ba0fb5", "Phone Number (Germany)"},
	detPhoneFR:   {"fed59ff3-3d35-4a5f-97bc-4eeeaff7d4f5", "Phone Number (France)"},
	detPhoneIN:   {"44256f91-b1d5-4264-b64b-ea4c3437a220", "Phone Number (India mobile)"},
	detUSAddress: {"0d865daa-2729-4867-959e-ea613070207e", "US Street Address"},

	detSSN:           {"762ab525-5d8e-4dc8-bd1e-8f40687be7d4", "US Social Security Number"},
	detITIN:          {"b6325e2c-fa24-46e9-a616-c38f5ca371d3", "US Individual Taxpayer Identification Number"},
	detPassportUSUK:  {"ae2071ed-809f-42fd-b08d-9a8089415d8a", "US or UK Passport Number"},
	detPassportCA:    {"808a03f5-ebdc-47e0-a09a-eb8338b9868c", "Canada Passport Number"},
	detPassportDE:    {"2da36d73-e8d8-4900-bb4c-1e0dd975f6ec", "Germany Passport Number"},
	detPassportFR:    {"d885a59a-23e6-43f5-9bc2-34eeeb1e8468", "France Passport Number"},
	detPassportIN:    {"a908b65f-4f6f-4190-9a5f-c4d8c83f2a28", "India Passport Number"},
	detDrivingUK:     {"2352a814-f76a-4231-9049-6bed82ac4630", "UK Driving Licence Number"},
	detDriving:       {"0d56abb2-b1e7-47d4-a96d-17393923c7cb", "Driver's Licence Number"},
	detNINO:          {"47f52519-56aa-4b06-a8fa-fe4365a8343c", "UK National Insurance Number"},
	detSIN:           {"37dff338-ca8a-464a-b670-d599d5cfc28e", "Canada Social Insurance Number"},
	detAadhaar:       {"a552e29c-632a-4ff4-8566-6967eebdf19d", "India Aadhaar Number"},
	detNIR:           {"ce09180d-ae77-4084-83e4-4f8989c497ed", "France INSEE Number (NIR)"},
	detDNI:           {"00390ce8-e5e4-4d09-8d2f-75010558b3b4", "Spain DNI"},
	detNIE:           {"f75379b4-5937-4d78-9881-f8ae46397908", "Spain NIE"},
	detCodiceFiscale: {"e3d4d632-764e-4c33-af30-a5e84b0296af", "Italy Codice Fiscale"},
	detBSN:           {"a97db9bf-49e4-4dc1-9363-c72f0d82ad00", "Netherlands BSN"},

	detMBI: {"a1118463-3cb6-4503-88e4-bd1809a587c5", "US Medicare Beneficiary Identifier"},
	detNHS: {"6ffc150c-9e6f-42ab-b0a4-da50fb0efbfb", "UK NHS Number"},
	detNPI: {"cb20c08b-5b18-45ea-b799-f26141b1781b", "US National Provider Identifier"},
	detMRN: {"b0d9118b-ad6d-4c54-b6aa-e8694620a9a6", "Medical Record Number"},

	detOpenAI:     {"812eff74-28ad-4747-80aa-d6ba7c662032", "OpenAI API Key"},
	detAnthropic:  {"5756c280-2479-40e1-b12d-2f330485672f", "Anthropic API Key"},
	detGoogleAPI:  {"cef83235-1c0d-4856-ba68-4b68154baabf", "Google API Key"},
	detAWSKeyID:   {"51dd251c-ec32-4a67-b0e6-e52ee45fff0a", "AWS Access Key ID"},
	detAWSSecret:  {"4aaf4abd-c23b-4d68-beb4-ce0d84844782", "AWS Secret Access Key"},
	detGitHub:     {"f4d946b0-e676-4c4d-bd13-f7cd1f07222a", "GitHub Token"},
	detSlack:      {"c8e685b8-73db-4442-93a7-b0cd36f7441a", "Slack Token"},
	detStripe:     {"55cc8d0d-0075-4aaa-867a-a48aecf66b16", "Stripe Live Secret Key"},
	detPrivateKey: {"f554965e-92ea-4174-aebc-b53ee44b00f2", "Private Key (PEM)"},
	detJWT:        {"a15b88c8-e247-45b7-aa10-7f7cefc75510", "JSON Web Token"},
}

// builtinByID maps a predefined entry id to its detector.
var builtinByID = func() map[string]det {
	m := make(map[string]det, numDets)
	for d := det(0); d < numDets; d++ {
		m[builtins[d].id] = d
	}
	return m
}()

type predefProfile struct {
	id, name, desc string
	dets           []det
}

var predefinedProfiles = []predefProfile{
	{ProfileFinancial, "Financial Information",
		"Payment card numbers (Luhn checked), IBANs (mod-97 checked) and US bank routing numbers.",
		[]det{detVisa, detMastercard, detAmex, detDiscover, detJCB, detDiners, detUnionPay, detIBAN, detABA}},
	{ProfilePII, "Personal Identifiable Information",
		"Email addresses, phone numbers and US street addresses.",
		[]det{detEmail, detPhoneE164, detPhoneNANP, detPhoneUK, detPhoneDE, detPhoneFR, detPhoneIN, detUSAddress}},
	{ProfileGovernment, "Government Identifiers",
		"US SSN and ITIN, passport and driver's licence numbers, national identity numbers with check digits.",
		[]det{detSSN, detITIN, detPassportUSUK, detPassportCA, detPassportDE, detPassportFR, detPassportIN,
			detDrivingUK, detDriving, detNINO, detSIN, detAadhaar, detNIR, detDNI, detNIE, detCodiceFiscale, detBSN}},
	{ProfileHealthcare, "Healthcare Information",
		"Health insurance and patient identifiers: US Medicare MBI, UK NHS number, US NPI, medical record numbers.",
		[]det{detMBI, detNHS, detNPI, detMRN}},
	{ProfileCredentials, "Credentials and Secrets",
		"Provider API keys, cloud access keys, source-control and chat tokens, private keys and JWTs.",
		[]det{detOpenAI, detAnthropic, detGoogleAPI, detAWSKeyID, detAWSSecret, detGitHub, detSlack, detStripe, detPrivateKey, detJWT}},
}

// PredefinedByID is the built-in profile with that id (shared: do not modify it).
func PredefinedByID(id string) (Profile, bool) {
	p, ok := predefinedByID[id]
	return p, ok
}

var predefinedByID = func() map[string]Profile {
	m := map[string]Profile{}
	for _, p := range Predefined() {
		m[p.ID] = p
	}
	return m
}()

// Predefined returns the built-in profiles with fixed ids (same ids every run, forever), every
// entry enabled. The caller owns the returned slices.
func Predefined() []Profile {
	out := make([]Profile, 0, len(predefinedProfiles))
	for _, p := range predefinedProfiles {
		pr := Profile{ID: p.id, Name: p.name, Description: p.desc, Type: TypePredefined}
		for _, d := range p.dets {
			pr.Entries = append(pr.Entries, Entry{ID: builtins[d].id, Name: builtins[d].name, Enabled: true, Type: TypePredefined})
		}
		out = append(out, pr)
	}
	return out
}

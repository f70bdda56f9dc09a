// validate.go: check-digit algorithms and format tables (Luhn, mod-97, Verhoeff, 11-tests, IBAN
// lengths, codice fiscale) used to confirm candidates found by the scanner. Digits are passed as
// values 0-9, not ASCII, unless the name says otherwise.
package dlp

// luhn reports whether d (digit values) passes the Luhn check.
func luhn(d []byte) bool {
	sum := 0
	double := false
	for i := len(d) - 1; i >= 0; i-- {
		v := int(d[i])
		if double {
			v *= 2
			if v > 9 {
				v -= 9
			}
		}
		sum += v
		double = !double
	}
	return sum%10 == 0
}

// cardNetwork returns the card network of the digit string d (13-19 digits) by its issuer
// prefix and length, or -1.
func cardNetwork(d []byte) int {
	n := len(d)
	p2 := int(d[0])*10 + int(d[1])
	p3 := p2*10 + int(d[2])
	p4 := p3*10 + int(d[3])
	switch d[0] {
	case 4:
		if n == 13 || n == 16 || n == 19 {
			return int(detVisa)
		}
	case 5:
		if p2 >= 51 && p2 <= 55 && n == 16 {
			return int(detMastercard)
		}
	case 2:
		if p4 >= 2221 && p4 <= 2720 && n == 16 {
			return int(detMastercard)
		}
	case 3:
		switch {
		case (p2 == 34 || p2 == 37) && n == 15:
			return int(detAmex)
		case p4 >= 3528 && p4 <= 3589 && n >= 16:
			return int(detJCB)
		case (p3 >= 300 && p3 <= 305 || p2 == 36 || p2 == 38 || p2 == 39) && n >= 14:
			return int(detDiners)
		}
	case 6:
		switch {
		case (p4 == 6011 || p3 >= 644 && p3 <= 649 || p2 == 65) && n >= 16:
			return int(detDiscover)
		case p2 == 62 && n >= 16:
			return int(detUnionPay)
		}
	}
	return -1
}

// abaValid checks a 9-digit US ABA routing number: prefix range and the 3-7-1 checksum.
func abaValid(d []byte) bool {
	p := int(d[0])*10 + int(d[1])
	if !(p <= 12 || p >= 21 && p <= 32 || p >= 61 && p <= 72 || p == 80) {
		return false
	}
	s := 3*(int(d[0])+int(d[3])+int(d[6])) + 7*(int(d[1])+int(d[4])+int(d[7])) + int(d[2]) + int(d[5]) + int(d[8])
	return s%10 == 0 && !allZero(d)
}

func allZero(d []byte) bool {
	for _, v := range d {
		if v != 0 {
			return false
		}
	}
	return true
}

func num(d []byte) int {
	n := 0
	for _, v := range d {
		n = n*10 + int(v)
	}
	return n
}

// ssnValid: area not 000, 666 or 9xx; group not 00; serial not 0000.
func ssnValid(d []byte) bool {
	area, group, serial := num(d[0:3]), num(d[3:5]), num(d[5:9])
	return area != 0 && area != 666 && area < 900 && group != 0 && serial != 0
}

// itinValid: 9xx, group 50-65, 70-88, 90-92 or 94-99.
func itinValid(d []byte) bool {
	g := num(d[3:5])
	return d[0] == 9 && (g >= 50 && g <= 65 || g >= 70 && g <= 88 || g >= 90 && g <= 92 || g >= 94)
}

// sinValid: Canada SIN, Luhn; first digit 0 (unused) and 8 (unassigned) refused.
func sinValid(d []byte) bool { return d[0] != 0 && d[0] != 8 && luhn(d) }

var verhoeffD = [10][10]byte{
	{0, 1, 2, 3, 4, 5, 6, 7, 8, 9},
	{1, 2, 3, 4, 0, 6, 7, 8, 9, 5},
	{2, 3, 4, 0, 1, 7, 8, 9, 5, 6},
	{3, 4, 0, 1, 2, 8, 9, 5, 6, 7},
	{4, 0, 1, 2, 3, 9, 5, 6, 7, 8},
	{5, 9, 8, 7, 6, 0, 4, 3, 2, 1},
	{6, 5, 9, 8, 7, 1, 0, 4, 3, 2},
	{7, 6, 5, 9, 8, 2, 1, 0, 4, 3},
	{8, 7, 6, 5, 9, 3, 2, 1, 0, 4},
	{9, 8, 7, 6, 5, 4, 3, 2, 1, 0},
}

var verhoeffP = [8][10]byte{
	{0, 1, 2, 3, 4, 5, 6, 7, 8, 9},
	{1, 5, 7, 6, 2, 8, 3, 0, 9, 4},
	{5, 8, 0, 3, 7, 9, 6, 1, 4, 2},
	{8, 9, 1, 6, 0, 4, 3, 5, 2, 7},
	{9, 4, 5, 3, 1, 2, 6, 8, 7, 0},
	{4, 2, 8, 6, 5, 7, 3, 9, 0, 1},
	{2, 7, 9, 3, 8, 0, 6, 4, 1, 5},
	{7, 0, 4, 6, 9, 1, 3, 2, 5, 8},
}

func verhoeff(d []byte) bool {
	c := byte(0)
	for i := 0; i < len(d); i++ {
		c = verhoeffD[c][verhoeffP[i%8][d[len(d)-1-i]]]
	}
	return c == 0
}

// aadhaarValid: 12 digits, first 2-9, Verhoeff check digit.
func aadhaarValid(d []byte) bool { return d[0] >= 2 && verhoeff(d) }

// nirValid: France INSEE/NIR, 15 digits: sex, year, month, department, commune, order, and the
// key 97 - (first 13 digits mod 97). Corsican departments (2A/2B) contain letters: not matched.
func nirValid(d []byte) bool {
	switch d[0] {
	case 1, 2, 3, 4, 7, 8:
	default:
		return false
	}
	m := num(d[3:5])
	if !(m >= 1 && m <= 12 || m >= 20 && m <= 42 || m >= 50) {
		return false
	}
	r := 0
	for _, v := range d[:13] {
		r = (r*10 + int(v)) % 97
	}
	return 97-r == num(d[13:15])
}

// bsnValid: Netherlands BSN 11-test: 9*d1 + 8*d2 + ... + 2*d8 - d9 ≡ 0 (mod 11).
func bsnValid(d []byte) bool {
	s := 0
	for i := 0; i < 8; i++ {
		s += (9 - i) * int(d[i])
	}
	s -= int(d[8])
	return s%11 == 0 && !allZero(d)
}

// nhsValid: UK NHS number, mod 11 with weights 10..2; a computed check of 10 is never issued.
func nhsValid(d []byte) bool {
	s := 0
	for i := 0; i < 9; i++ {
		s += (10 - i) * int(d[i])
	}
	c := 11 - s%11
	if c == 11 {
		c = 0
	}
	return c != 10 && c == int(d[9]) && !allZero(d)
}

// npiValid: US NPI, 10 digits starting 1 or 2, Luhn over the number prefixed with 80840.
func npiValid(d []byte) bool {
	if d[0] != 1 && d[0] != 2 {
		return false
	}
	var b [15]byte
	b[0], b[1], b[2], b[3], b[4] = 8, 0, 8, 4, 0
	copy(b[5:], d)
	return luhn(b[:])
}

// dniLetter is the Spanish DNI/NIE control letter for n.
func dniLetter(n int) byte { return "TRWAGMYFPDXBNJZSQVHLCKE"[n%23] }

// ibanLength is the IBAN length of each country (SWIFT registry), 0 when unknown.
func ibanLength(a, b byte) int {
	switch string([]byte{a, b}) {
	case "NO":
		return 15
	case "BE":
		return 16
	case "DK", "FI", "FO", "GL", "NL":
		return 18
	case "MK", "SI":
		return 19
	case "AT", "BA", "EE", "KZ", "LT", "LU", "XK":
		return 20
	case "CH", "CR", "HR", "LI", "LV":
		return 21
	case "BG", "BH", "DE", "GB", "GE", "IE", "ME", "RS", "VA":
		return 22
	case "AE", "GI", "IL", "IQ", "TL":
		return 23
	case "AD", "CZ", "ES", "MD", "PK", "RO", "SA", "SE", "SK", "TN", "VG":
		return 24
	case "PT", "ST":
		return 25
	case "IS", "TR":
		return 26
	case "FR", "GR", "IT", "MC", "MR", "SM":
		return 27
	case "AL", "AZ", "BY", "CY", "DO", "GT", "HU", "LB", "PL", "SV":
		return 28
	case "BR", "EG", "PS", "QA", "UA":
		return 29
	case "JO", "KW", "MU":
		return 30
	case "MT", "SC":
		return 31
	case "LC":
		return 32
	}
	return 0
}

// ibanValid checks the mod-97 checksum of an IBAN given as ASCII upper-case letters and digits.
func ibanValid(s []byte) bool {
	r := 0
	add := func(c byte) {
		if c >= '0' && c <= '9' {
			r = (r*10 + int(c-'0')) % 97
		} else {
			r = (r*100 + int(c-'A') + 10) % 97
		}
	}
	for _, c := range s[4:] {
		add(c)
	}
	for _, c := range s[:4] {
		add(c)
	}
	return r == 1
}

// Codice fiscale: value of each character at odd (1st, 3rd, ...) and even positions.
var cfOdd = [36]int{ // 0-9 then A-Z
	1, 0, 5, 7, 9, 13, 15, 17, 19, 21,
	1, 0, 5, 7, 9, 13, 15, 17, 19, 21, 2, 4, 18, 20, 11, 3, 6, 8, 12, 14, 16, 10, 22, 25, 24, 23,
}

func cfIndex(c byte) int {
	if c >= '0' && c <= '9' {
		return int(c - '0')
	}
	return int(c-'A') + 10
}

// codiceFiscaleValid checks an upper-case 16-character Italian codice fiscale: its layout
// (digits may be replaced by the omocodia letters LMNPQRSTUV) and the check letter.
func codiceFiscaleValid(w []byte) bool {
	const months = "ABCDEHLMPRST"
	const omo = "LMNPQRSTUV"
	for i, c := range w {
		switch i {
		case 0, 1, 2, 3, 4, 5, 11, 15:
			if !isUpper(c) {
				return false
			}
		case 8:
			if !isUpper(c) || !containsByte(months, c) {
				return false
			}
		default: // 6,7,9,10,12,13,14
			if !isDigit(c) && !containsByte(omo, c) {
				return false
			}
		}
	}
	s := 0
	for i := 0; i < 15; i++ {
		if i%2 == 0 {
			s += cfOdd[cfIndex(w[i])]
		} else if isDigit(w[i]) {
			s += int(w[i] - '0')
		} else {
			s += int(w[i] - 'A')
		}
	}
	return w[15] == byte('A'+s%26)
}

func containsByte(s string, c byte) bool {
	for i := 0; i < len(s); i++ {
		if s[i] == c {
			return true
		}
	}
	return false
}

package spec

import (
	"encoding/json"
	"fmt"
	"strconv"
	"unicode/utf16"
)

// JSON is meant to be YAML, but yaml.v3 rejects two JSON string escapes:
// "\/" and UTF-16 surrogate pairs ("\ud83d\ude00", which Python's json
// module writes for every emoji). fromJSON respells them inside the strings
// of a valid JSON document (as "/" and "\U0001F600"; a lone surrogate as
// U+FFFD, as encoding/json reads it), keeping every line where it was so
// problems still point at the right line. Other input is returned unchanged.
func fromJSON(data []byte) []byte {
	if !json.Valid(data) || !needsRespelling(data) {
		return data
	}
	out := make([]byte, 0, len(data))
	inString := false
	for i := 0; i < len(data); i++ {
		c := data[i]
		switch {
		case !inString:
			inString = c == '"'
			out = append(out, c)
		case c == '"':
			inString = false
			out = append(out, c)
		case c != '\\':
			out = append(out, c)
		case data[i+1] == '/': // valid JSON: an escape is never the last byte
			out = append(out, '/')
			i++
		case data[i+1] == 'u':
			r1 := hex4(data[i+2 : i+6])
			if !utf16.IsSurrogate(r1) {
				out = append(out, data[i:i+6]...)
				i += 5
				break
			}
			r := '\uFFFD'
			if i+12 <= len(data) && data[i+6] == '\\' && data[i+7] == 'u' {
				if d := utf16.DecodeRune(r1, hex4(data[i+8:i+12])); d != '\uFFFD' {
					r = d
					i += 6
				}
			}
			out = fmt.Appendf(out, `\U%08X`, r)
			i += 5
		default:
			out = append(out, c, data[i+1])
			i++
		}
	}
	return out
}

// needsRespelling is a cheap pre-check: no `\/` and no `\ud8..\udf` escape
// means the document reads the same as YAML.
func needsRespelling(data []byte) bool {
	for i := 0; i+2 < len(data); i++ {
		if data[i] != '\\' {
			continue
		}
		switch data[i+1] {
		case '/':
			return true
		case 'u':
			if i+3 < len(data) && (data[i+2] == 'd' || data[i+2] == 'D') {
				switch data[i+3] {
				case '8', '9', 'a', 'b', 'c', 'd', 'e', 'f', 'A', 'B', 'C', 'D', 'E', 'F':
					return true
				}
			}
		}
		i++ // skip the escaped character ("\\" must not start another escape)
	}
	return false
}

func hex4(b []byte) rune {
	n, err := strconv.ParseUint(string(b), 16, 32)
	if err != nil {
		return '\uFFFD'
	}
	return rune(n)
}

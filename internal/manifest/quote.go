package manifest

import (
	"errors"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

// unquote reads the single- or double-quoted one-line scalar starting at text[off]
// and returns its value, the offset in text where each byte of the value starts (-1 inside
// a multi-byte character or an escape, the closing quote for the end of the value), and the
// offset just past the closing quote.
func unquote(text []byte, off int) (value []byte, at []int, end int, err error) {
	if off >= len(text) || (text[off] != '\'' && text[off] != '"') {
		return nil, nil, 0, mismatch("quoted value not found where the parser put it")
	}
	q := text[off]
	for i := off + 1; i < len(text); {
		if lineBreak(text, i) > 0 {
			return nil, nil, 0, errors.New("a quoted value must be written on one line")
		}
		start, c := i, text[i]
		var r rune
		switch {
		case c == q && q == '\'' && i+1 < len(text) && text[i+1] == '\'':
			r, i = '\'', i+2
		case c == q:
			return value, append(at, i), i + 1, nil
		case c == '\\' && q == '"':
			if r, i, err = unescape(text, i); err != nil {
				return nil, nil, 0, err
			}
		default:
			_, w := utf8.DecodeRune(text[i:])
			value = append(value, text[i:i+w]...)
			at = append(at, i)
			for j := 1; j < w; j++ {
				at = append(at, -1)
			}
			i += w
			continue
		}
		n := len(value)
		value = utf8.AppendRune(value, r)
		at = append(at, start)
		for j := n + 1; j < len(value); j++ {
			at = append(at, -1)
		}
	}
	return nil, nil, 0, mismatch("quoted value is not closed")
}

// escapes are YAML's one-character escapes in double-quoted scalars.
var escapes = map[byte]rune{
	'0': 0, 'a': '\a', 'b': '\b', 't': '\t', '\t': '\t', 'n': '\n', 'v': '\v', 'f': '\f',
	'r': '\r', 'e': 0x1b, ' ': ' ', '"': '"', '/': '/', '\\': '\\', 'N': 0x85, '_': 0xa0,
	'L': 0x2028, 'P': 0x2029,
}

// unescape decodes the escape sequence at text[i] (a backslash) and returns the
// character and the offset after the sequence.
func unescape(text []byte, i int) (rune, int, error) {
	if i+1 >= len(text) || lineBreak(text, i+1) > 0 {
		return 0, 0, errors.New("a quoted value must be written on one line")
	}
	e := text[i+1]
	if r, ok := escapes[e]; ok {
		return r, i + 2, nil
	}
	digits := map[byte]int{'x': 2, 'u': 4, 'U': 8}[e]
	if digits == 0 || i+2+digits > len(text) {
		return 0, 0, mismatch("unknown escape \\%c", e)
	}
	v, err := strconv.ParseUint(string(text[i+2:i+2+digits]), 16, 32)
	if err != nil || v > utf8.MaxRune {
		return 0, 0, mismatch("bad escape %q", text[i:i+2+digits])
	}
	return rune(v), i + 2 + digits, nil
}

// encode writes image as a scalar token of the given style.
func encode(image string, style yaml.Style) string {
	switch {
	case style == yaml.SingleQuotedStyle:
		return "'" + strings.ReplaceAll(image, "'", "''") + "'"
	case style == 0 && plainSafe(image):
		return image
	default:
		return `"` + escapeDouble(image) + `"`
	}
}

// escapeDouble escapes s for the inside of a double-quoted scalar. s holds only
// printable characters (checkImage), so only quotes and backslashes need it.
func escapeDouble(s string) string {
	return strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s)
}

// plainSafe reports whether image reads back as the same string when written plain,
// in block or flow context, by YAML 1.2 (yaml.v3) and YAML 1.1 (Helm's parser) alike. It is
// conservative: anything that looks like a number, bool, null or timestamp gets quoted.
func plainSafe(image string) bool {
	if image == "" || strings.HasSuffix(image, ":") {
		return false
	}
	for i, r := range image {
		alnum := r < utf8.RuneSelf && (unicode.IsLetter(r) || unicode.IsDigit(r))
		switch {
		case alnum || r == '_' || r == '/':
		case i > 0 && strings.ContainsRune(".:@+-", r):
		default:
			return false
		}
	}
	switch strings.ToLower(image) {
	case "y", "n", "yes", "no", "on", "off", "true", "false", "null":
		return false
	}
	if image[0] >= '0' && image[0] <= '9' && strings.Trim(image, "0123456789abcdefABCDEFoOxXtTzZ._:+-") == "" {
		return false
	}
	return true
}

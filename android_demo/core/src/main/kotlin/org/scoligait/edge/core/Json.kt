package org.scoligait.edge.core

/**
 * A small JSON reader/writer (the core has no dependencies, so it runs on any JVM and on Android).
 *
 * Values: `Map<String, Any?>` (insertion-ordered), `List<Any?>`, `String`, `Long` (integer
 * literals that fit), `Double`, `Boolean`, `null`.
 */
object Json {
    class ParseException(message: String) : Exception(message)

    fun parse(text: String): Any? {
        val p = Parser(text)
        p.ws()
        val v = p.value()
        p.ws()
        if (p.i != text.length) throw ParseException("trailing characters at offset ${p.i}")
        return v
    }

    private class Parser(val s: String) {
        var i = 0

        fun ws() {
            while (i < s.length && (s[i] == ' ' || s[i] == '\n' || s[i] == '\r' || s[i] == '\t')) i++
        }

        fun fail(msg: String): Nothing = throw ParseException("$msg at offset $i")

        fun value(): Any? {
            if (i >= s.length) fail("unexpected end")
            return when (val c = s[i]) {
                '{' -> obj()
                '[' -> arr()
                '"' -> str()
                't' -> lit("true", true)
                'f' -> lit("false", false)
                'n' -> lit("null", null)
                'N' -> lit("NaN", Double.NaN) // Python's json writes these unless allow_nan=False
                'I' -> lit("Infinity", Double.POSITIVE_INFINITY)
                else -> if (c == '-' || c in '0'..'9') num() else fail("unexpected '$c'")
            }
        }

        fun lit(word: String, v: Any?): Any? {
            if (!s.startsWith(word, i)) fail("bad literal")
            i += word.length
            return v
        }

        fun obj(): Map<String, Any?> {
            val m = LinkedHashMap<String, Any?>()
            i++
            ws()
            if (i < s.length && s[i] == '}') { i++; return m }
            while (true) {
                ws()
                if (i >= s.length || s[i] != '"') fail("expected a key")
                val k = str()
                ws()
                if (i >= s.length || s[i] != ':') fail("expected ':'")
                i++
                ws()
                m[k] = value()
                ws()
                if (i >= s.length) fail("unterminated object")
                if (s[i] == ',') { i++; continue }
                if (s[i] == '}') { i++; return m }
                fail("expected ',' or '}'")
            }
        }

        fun arr(): List<Any?> {
            val a = ArrayList<Any?>()
            i++
            ws()
            if (i < s.length && s[i] == ']') { i++; return a }
            while (true) {
                ws()
                a += value()
                ws()
                if (i >= s.length) fail("unterminated array")
                if (s[i] == ',') { i++; continue }
                if (s[i] == ']') { i++; return a }
                fail("expected ',' or ']'")
            }
        }

        fun str(): String {
            val sb = StringBuilder()
            i++
            while (true) {
                if (i >= s.length) fail("unterminated string")
                val c = s[i++]
                when (c) {
                    '"' -> return sb.toString()
                    '\\' -> {
                        if (i >= s.length) fail("bad escape")
                        when (val e = s[i++]) {
                            '"' -> sb.append('"'); '\\' -> sb.append('\\'); '/' -> sb.append('/')
                            'b' -> sb.append('\b'); 'f' -> sb.append('\u000c'); 'n' -> sb.append('\n')
                            'r' -> sb.append('\r'); 't' -> sb.append('\t')
                            'u' -> {
                                if (i + 4 > s.length) fail("bad \\u escape")
                                sb.append(s.substring(i, i + 4).toInt(16).toChar())
                                i += 4
                            }
                            else -> fail("bad escape '\\$e'")
                        }
                    }
                    else -> sb.append(c)
                }
            }
        }

        fun num(): Any {
            val start = i
            if (s[i] == '-') i++
            if (s.startsWith("Infinity", i)) { i += 8; return Double.NEGATIVE_INFINITY }
            while (i < s.length && s[i] in '0'..'9') i++
            var integral = true
            if (i < s.length && s[i] == '.') { integral = false; i++; while (i < s.length && s[i] in '0'..'9') i++ }
            if (i < s.length && (s[i] == 'e' || s[i] == 'E')) {
                integral = false
                i++
                if (i < s.length && (s[i] == '+' || s[i] == '-')) i++
                while (i < s.length && s[i] in '0'..'9') i++
            }
            val t = s.substring(start, i)
            if (t == "-" || t.isEmpty()) fail("bad number")
            if (integral) t.toLongOrNull()?.let { return it }
            return t.toDouble()
        }
    }

    /** Append `s` as a JSON string with Python's `ensure_ascii=True` escaping. */
    fun quoteAscii(s: String, sb: StringBuilder) {
        sb.append('"')
        for (c in s) {
            when {
                c == '"' -> sb.append("\\\"")
                c == '\\' -> sb.append("\\\\")
                c == '\n' -> sb.append("\\n")
                c == '\r' -> sb.append("\\r")
                c == '\t' -> sb.append("\\t")
                c == '\b' -> sb.append("\\b")
                c == '\u000c' -> sb.append("\\f")
                c < ' ' || c > '~' -> sb.append("\\u").append(String.format("%04x", c.code))
                else -> sb.append(c)
            }
        }
        sb.append('"')
    }

    /** Serialise a value tree (maps, lists, strings, numbers, booleans, null); NaN/inf → null. */
    fun write(v: Any?, indent: Int = 0): String {
        val sb = StringBuilder()
        write(v, sb, indent, 0)
        return sb.toString()
    }

    private fun write(v: Any?, sb: StringBuilder, indent: Int, level: Int) {
        fun nl(l: Int) { if (indent > 0) { sb.append('\n'); repeat(l * indent) { sb.append(' ') } } }
        when (v) {
            null -> sb.append("null")
            is String -> quoteAscii(v, sb)
            is Boolean -> sb.append(v)
            is Double -> if (v.isFinite()) sb.append(v.toString()) else sb.append("null")
            is Float -> if (v.isFinite()) sb.append(v.toDouble().toString()) else sb.append("null")
            is Number -> sb.append(v.toLong())
            is Map<*, *> -> {
                sb.append('{')
                var first = true
                for ((k, x) in v) {
                    if (!first) sb.append(',')
                    first = false
                    nl(level + 1)
                    quoteAscii(k.toString(), sb)
                    sb.append(if (indent > 0) ": " else ":")
                    write(x, sb, indent, level + 1)
                }
                if (!first) nl(level)
                sb.append('}')
            }
            is Iterable<*> -> {
                sb.append('[')
                var first = true
                for (x in v) {
                    if (!first) sb.append(',')
                    first = false
                    nl(level + 1)
                    write(x, sb, indent, level + 1)
                }
                if (!first) nl(level)
                sb.append(']')
            }
            is DoubleArray -> write(v.toList(), sb, indent, level)
            is IntArray -> write(v.toList(), sb, indent, level)
            else -> quoteAscii(v.toString(), sb)
        }
    }
}

// ---- typed access helpers for parsed JSON
@Suppress("UNCHECKED_CAST")
internal fun Any?.asMap(what: String): Map<String, Any?> =
    this as? Map<String, Any?> ?: throw Json.ParseException("$what is not a JSON object")

internal fun Any?.asList(what: String): List<Any?> = this as? List<Any?> ?: throw Json.ParseException("$what is not a list")

internal fun Any?.asDouble(what: String): Double = (this as? Number)?.toDouble() ?: throw Json.ParseException("$what is not a number")

internal fun Any?.asInt(what: String): Int = (this as? Number)?.toInt() ?: throw Json.ParseException("$what is not a number")

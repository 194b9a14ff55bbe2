package org.scoligait.edge.core

import java.io.File
import java.io.InputStream
import java.security.MessageDigest

/** A bundle the core refuses: one-line cause and remedy (like the Python `BundleError`). */
class BundleException(val reason: String, val remedy: String) : Exception("$reason — $remedy")

/** Where a bundle's files live: a directory on the JVM, the app's assets or files dir on Android. */
interface BundleFiles {
    val name: String
    fun exists(path: String): Boolean
    fun size(path: String): Long
    fun open(path: String): InputStream
}

class DirectoryBundle(val dir: File) : BundleFiles {
    override val name: String get() = dir.name
    private fun file(path: String) = File(dir, path)
    override fun exists(path: String) = file(path).isFile
    override fun size(path: String) = file(path).length()
    override fun open(path: String): InputStream = file(path).inputStream().buffered()
}

/** One entry of the manifest's `inputs` / `outputs`: name, shape ("batch" = -1), dtype. */
data class TensorSpec(val name: String, val shape: List<Int>, val dtype: String)

/**
 * A bundle's `manifest.json` (`scoligait_edge/export/bundle.py` `build_manifest`, schema 1 and 2).
 *
 * Required: `format`, `schema_version`, `target`, `precision`, `artifact`, `files` (sha256 +
 * bytes each), `inputs`/`outputs`, `kmap_catalog_hash`, `decision_threshold`. Read when present
 * (schema 2): `device_class`, `int8_recipe`, `export_machine`, `golden`, `normalization`,
 * `model.n_prompts`. The knowledge-map input is the *raw* map: the exported graph applies the
 * normalisation stored under `normalization` itself, so the core passes it through unchanged.
 */
class Manifest(val json: Map<String, Any?>) {
    val format: String? = json["format"] as? String
    val schemaVersion: Int = (json["schema_version"] as? Number)?.toInt() ?: -1
    val target: String = json["target"] as? String ?: ""
    val precision: String = json["precision"] as? String ?: ""
    val artifact: String = json["artifact"] as? String ?: ""
    val catalogHash: String? = json["kmap_catalog_hash"] as? String
    val decisionThreshold: Double = (json["decision_threshold"] as? Number)?.toDouble() ?: Double.NaN
    val deviceClass: String? = json["device_class"] as? String
    val int8Recipe: Any? = json["int8_recipe"]
    val exportMachine: Map<String, Any?>? = json["export_machine"].let { @Suppress("UNCHECKED_CAST") (it as? Map<String, Any?>) }
    val golden: Map<String, Any?>? = json["golden"].let { @Suppress("UNCHECKED_CAST") (it as? Map<String, Any?>) }
    val toolkitVersion: String? = json["toolkit_version"] as? String
    val nPrompts: Int? = ((json["model"] as? Map<*, *>)?.get("n_prompts") as? Number)?.toInt()

    /** Normalisation stats (e.g. `km_mean`, `km_std`: 238 values each), informational on the device. */
    val normalization: Map<String, List<Double>> = (json["normalization"] as? Map<*, *>).orEmpty()
        .mapNotNull { (k, v) -> (v as? List<*>)?.let { l -> k.toString() to l.mapNotNull { (it as? Number)?.toDouble() } } }
        .toMap()

    val inputs: List<TensorSpec> = specs("inputs")
    val outputs: List<TensorSpec> = specs("outputs")

    /** name → (sha256, bytes). */
    val files: Map<String, Pair<String, Long>> = (json["files"] as? Map<*, *>).orEmpty().mapNotNull { (k, v) ->
        val m = v as? Map<*, *> ?: return@mapNotNull null
        val sha = m["sha256"] as? String ?: return@mapNotNull null
        val bytes = (m["bytes"] as? Number)?.toLong() ?: return@mapNotNull null
        k.toString() to (sha to bytes)
    }.toMap()

    private fun specs(key: String): List<TensorSpec> = (json[key] as? List<*>).orEmpty().mapNotNull { e ->
        val m = e as? Map<*, *> ?: return@mapNotNull null
        val shape = (m["shape"] as? List<*>).orEmpty().map { (it as? Number)?.toInt() ?: -1 }
        TensorSpec(m["name"] as? String ?: "", shape, m["dtype"] as? String ?: "")
    }

    companion object {
        const val FORMAT = "scoligait-edge-bundle"
        val SCHEMA_VERSIONS = setOf(1, 2)
        const val MANIFEST = "manifest.json"

        /** The contract's shapes (`-1` = batch). */
        val EXPECTED_INPUTS = listOf(
            TensorSpec("kmap", listOf(-1, 96, Catalog.N_FEATURES), "float32"),
            TensorSpec("silhouette", listOf(-1, 96, 64, 44), "float32"),
            TensorSpec("prompt_id", listOf(-1), "int64"),
        )
        val EXPECTED_OUTPUTS = listOf(
            TensorSpec("referral_logit", listOf(-1), "float32"),
            TensorSpec("referral_prob", listOf(-1), "float32"),
            TensorSpec("cobb_angle", listOf(-1), "float32"),
            TensorSpec("saliency", listOf(-1, 96, Catalog.N_FEATURES), "float32"),
        )

        fun parse(text: String, bundle: String = "bundle"): Manifest {
            val v = try {
                Json.parse(text)
            } catch (e: Json.ParseException) {
                throw BundleException("$bundle/$MANIFEST is not valid JSON (${e.message})", "re-export the bundle")
            }
            val m = v as? Map<*, *> ?: throw BundleException("$bundle/$MANIFEST is not a JSON object", "re-export the bundle")
            @Suppress("UNCHECKED_CAST")
            return Manifest(m as Map<String, Any?>)
        }

        fun read(files: BundleFiles): Manifest {
            if (!files.exists(MANIFEST)) {
                throw BundleException("bundle ${files.name} has no $MANIFEST", "re-export it with `scoligait-edge export`")
            }
            return parse(files.open(MANIFEST).use { it.readBytes().toString(Charsets.UTF_8) }, files.name)
        }

        /**
         * Read and verify a bundle like `export.bundle.verify_bundle`: format, schema version,
         * catalog hash, input/output contract, prompt table size, threshold, and every listed
         * file's size and sha256. Throws [BundleException] naming the first problem.
         */
        fun verify(files: BundleFiles): Manifest {
            val m = read(files)
            val b = files.name
            if (m.format != FORMAT) throw BundleException("$b/$MANIFEST is not a scoligait-edge bundle manifest", "re-export the bundle")
            if (m.schemaVersion !in SCHEMA_VERSIONS) {
                throw BundleException(
                    "bundle $b has manifest schema version ${m.schemaVersion}, this app reads ${SCHEMA_VERSIONS.sorted().joinToString(" and ")}",
                    "export the bundle with a scoligait-edge version this app supports, or update the app",
                )
            }
            val want = m.catalogHash
            if (want.isNullOrEmpty()) throw BundleException("bundle $b does not name its knowledge-map catalog", "re-export the bundle")
            if (want != Catalog.HASH) {
                throw BundleException(
                    "bundle $b was built for knowledge-map catalog ${want.take(12)}, this app has ${Catalog.HASH.take(12)}",
                    "re-export the model with the toolkit this app was built from (feature indices differ)",
                )
            }
            checkSpecs(b, "input", m.inputs, EXPECTED_INPUTS)
            checkSpecs(b, "output", m.outputs, EXPECTED_OUTPUTS)
            if (m.nPrompts != null && m.nPrompts != Prompts.PROMPTS.size) {
                throw BundleException(
                    "bundle $b has a prompt table of ${m.nPrompts} entries, this app derives ${Prompts.PROMPTS.size} prompt ids",
                    "re-export the model with the matching prompt table",
                )
            }
            if (!m.decisionThreshold.isFinite() || m.decisionThreshold <= 0 || m.decisionThreshold >= 1) {
                throw BundleException("bundle $b has decision threshold ${m.decisionThreshold}", "re-export the bundle")
            }
            if (m.files.isEmpty()) throw BundleException("bundle $b manifest lists no files", "re-export the bundle")
            for ((name, entry) in m.files) {
                if (!safePath(name)) throw BundleException("bundle $b manifest names a file outside the bundle: $name", "do not trust it")
                if (!files.exists(name)) throw BundleException("bundle $b is missing file $name", "re-export or re-copy the whole bundle")
                val size = files.size(name)
                if (size != entry.second) {
                    throw BundleException(
                        "bundle file $name is $size bytes, manifest says ${entry.second} (truncated or replaced)",
                        "re-copy or re-export the bundle",
                    )
                }
                if (sha256(files.open(name)) != entry.first) {
                    throw BundleException(
                        "bundle file $name does not match its sha256 in the manifest (tampered or corrupt)",
                        "re-copy or re-export the bundle",
                    )
                }
            }
            if (m.artifact !in m.files) throw BundleException("bundle $b artifact '${m.artifact}' is not in its file list", "re-export")
            m.golden?.get("file")?.let { g ->
                if (g !is String || g !in m.files) throw BundleException("bundle $b golden file '$g' is not in its file list", "re-export")
            }
            return m
        }

        private fun checkSpecs(b: String, kind: String, got: List<TensorSpec>, want: List<TensorSpec>) {
            val names = got.map { it.name }
            if (names != want.map { it.name }) {
                throw BundleException("bundle $b has ${kind}s $names, the app expects ${want.map { it.name }}", "re-export the bundle")
            }
            for ((g, w) in got.zip(want)) {
                val fixed = g.shape.size == w.shape.size && g.shape.indices.all { i -> w.shape[i] == -1 || g.shape[i] == w.shape[i] }
                if (!fixed || (g.dtype.isNotEmpty() && g.dtype != w.dtype)) {
                    throw BundleException(
                        "bundle $b $kind '${g.name}' is ${g.dtype}${g.shape}, expected ${w.dtype}${w.shape} (-1 = batch)",
                        "re-export the bundle",
                    )
                }
            }
        }

        /** A relative path that stays inside the bundle (no absolute path, no `..`, no backslash). */
        fun safePath(name: String): Boolean {
            if (name.isEmpty() || name.startsWith("/") || name.contains('\\') || name.contains('\u0000')) return false
            if (Regex("^[A-Za-z]:").containsMatchIn(name)) return false
            return name.split('/').none { it == ".." || it.isEmpty() }
        }

        fun sha256(input: InputStream): String {
            val md = MessageDigest.getInstance("SHA-256")
            input.use {
                val buf = ByteArray(1 shl 16)
                while (true) {
                    val n = it.read(buf)
                    if (n < 0) break
                    md.update(buf, 0, n)
                }
            }
            return md.digest().joinToString("") { "%02x".format(it) }
        }
    }

    /** The file the app should run: the `.ort` (ORT Mobile) if listed, else the artifact. */
    fun mobileModel(): String = files.keys.firstOrNull { it.endsWith(".ort") } ?: artifact
}

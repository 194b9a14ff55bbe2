package org.scoligait.edge.core

import org.junit.Assert.assertEquals
import org.junit.Assert.assertFalse
import org.junit.Assert.assertTrue
import org.junit.Assume.assumeTrue
import org.junit.Test
import java.io.File
import java.nio.file.Files

class ManifestTest {
    private fun bundle(): File {
        val b = Vectors.bundleDir
        assumeTrue("the vectors have no sample bundle (export unavailable when they were made)", b != null && b.isDirectory)
        return b!!
    }

    /** A scratch copy of the sample bundle, with `edit` applied to its parsed manifest. */
    private fun copy(edit: (MutableMap<String, Any?>) -> Unit = {}): File {
        val src = bundle()
        val dst = Files.createTempDirectory("bundle").toFile()
        src.listFiles()!!.forEach { it.copyTo(File(dst, it.name)) }
        @Suppress("UNCHECKED_CAST")
        val m = (Json.parse(File(dst, "manifest.json").readText()) as Map<String, Any?>).toMutableMap()
        edit(m)
        File(dst, "manifest.json").writeText(Json.write(m, indent = 2))
        return dst
    }

    private fun refused(dir: File, vararg words: String): BundleException {
        try {
            Manifest.verify(DirectoryBundle(dir))
        } catch (e: BundleException) {
            for (w in words) assertTrue("'$w' not in: ${e.message}", e.message!!.contains(w))
            assertTrue(e.remedy.isNotEmpty())
            return e
        } finally {
            dir.deleteRecursively()
        }
        throw AssertionError("bundle accepted, expected a refusal mentioning ${words.toList()}")
    }

    @Test
    fun sampleBundleVerifies() {
        val m = Manifest.verify(DirectoryBundle(bundle()))
        assertTrue(m.schemaVersion in Manifest.SCHEMA_VERSIONS)
        assertEquals(Catalog.HASH, m.catalogHash)
        assertEquals(Contract.INPUT_NAMES, m.inputs.map { it.name })
        assertEquals(Contract.OUTPUT_NAMES, m.outputs.map { it.name })
        assertEquals(Vectors.threshold!!, m.decisionThreshold, 0.0)
        assertTrue(m.files.containsKey(m.artifact))
        assertEquals(154, m.nPrompts)
        assertEquals(238, m.normalization["km_mean"]?.size)
        if (m.files.keys.any { it.endsWith(".ort") }) assertTrue(m.mobileModel().endsWith(".ort"))
    }

    @Test
    fun schemaTwoFieldsAreOptional() {
        val m = Manifest.verify(DirectoryBundle(bundle()))
        if (m.schemaVersion == 2) {
            assertTrue(m.deviceClass != null)
            assertTrue(m.golden?.get("file") is String)
        }
        // a schema-1 manifest without any schema-2 field still verifies
        val d = copy { it["schema_version"] = 1L; it.remove("device_class"); it.remove("int8_recipe"); it.remove("export_machine"); it.remove("golden") }
        try {
            val old = Manifest.verify(DirectoryBundle(d))
            assertEquals(null, old.golden)
            assertEquals(null, old.deviceClass)
        } finally {
            d.deleteRecursively()
        }
    }

    @Test
    fun tamperedTruncatedAndMissingFilesAreRefused() {
        val art = Manifest.verify(DirectoryBundle(bundle())).artifact
        var d = copy()
        val f = File(d, art)
        val bytes = f.readBytes()
        bytes[bytes.size / 2] = (bytes[bytes.size / 2].toInt() xor 1).toByte()
        f.writeBytes(bytes)
        refused(d, art, "sha256")
        d = copy()
        File(d, art).writeBytes(File(d, art).readBytes().copyOf(100))
        refused(d, art, "bytes", "truncated")
        d = copy()
        File(d, art).delete()
        refused(d, "missing file", art)
    }

    @Test
    fun wrongCatalogSchemaOrContractIsRefused() {
        refused(copy { it["kmap_catalog_hash"] = "0".repeat(64) }, "catalog", "000000000000")
        refused(copy { it["schema_version"] = 3L }, "schema version 3")
        refused(copy { it["format"] = "something-else" }, "not a scoligait-edge bundle")
        refused(copy { m ->
            val ins = Vectors.list(m["inputs"]).map { Vectors.map(it).toMutableMap() }
            ins[0]["shape"] = listOf("batch", 64, 238)
            m["inputs"] = ins
        }, "kmap", "expected")
        refused(copy { m -> m["outputs"] = Vectors.list(m["outputs"]).drop(1) }, "outputs")
        refused(copy { m -> m["model"] = mapOf("n_prompts" to 10L) }, "prompt table of 10")
        refused(copy { it["decision_threshold"] = 1.5 }, "threshold")
        refused(copy { it["artifact"] = "other.onnx" }, "artifact", "other.onnx")
    }

    @Test
    fun pathsOutsideTheBundleAreRefused() {
        refused(copy { m ->
            val files = Vectors.map(m["files"]).toMutableMap()
            files["../../etc/passwd"] = mapOf("sha256" to "0".repeat(64), "bytes" to 1L)
            m["files"] = files
        }, "outside the bundle")
        for (bad in listOf("/abs", "a/../../b", "a\\b", "C:/x", "", "a//b")) assertFalse(bad, Manifest.safePath(bad))
        for (ok in listOf("model.onnx", "sub/model.bin", "golden.npz")) assertTrue(ok, Manifest.safePath(ok))
    }

    @Test
    fun unreadableManifestIsRefused() {
        val d = copy()
        File(d, "manifest.json").writeText("{not json")
        refused(d, "not valid JSON")
        val e = Files.createTempDirectory("empty").toFile()
        refused(e, "no manifest.json")
    }
}

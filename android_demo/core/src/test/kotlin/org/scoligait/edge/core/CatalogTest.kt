package org.scoligait.edge.core

import org.junit.Assert.assertArrayEquals
import org.junit.Assert.assertEquals
import org.junit.Test

class CatalogTest {
    private val cat = Vectors.map(Vectors.index["catalog"])

    @Test
    fun catalogHashEqualsPython() {
        assertEquals(cat["hash"], Catalog.catalogHash())
    }

    @Test
    fun canonicalJsonIsByteIdentical() {
        val py = cat["json"] as String
        val kt = Catalog.catalogJson()
        if (py != kt) {
            val i = py.indices.firstOrNull { it >= kt.length || py[it] != kt[it] } ?: kt.length
            throw AssertionError("catalog JSON differs at $i: python …${py.substring(maxOf(0, i - 40), minOf(py.length, i + 40))}… kotlin …${kt.substring(maxOf(0, i - 40), minOf(kt.length, i + 40))}…")
        }
    }

    @Test
    fun namesLabelsDomainsInOrder() {
        assertEquals(Vectors.list(cat["names"]), Catalog.FEATURES.map { it.name })
        assertEquals(Vectors.list(cat["labels"]), Catalog.FEATURES.map { it.label })
        assertEquals(Vectors.list(cat["domains"]), Catalog.FEATURES.map { it.domain })
        val sl = Vectors.map(cat["domain_slices"])
        for ((d, r) in Catalog.DOMAINS) {
            val (a, b) = Vectors.list(sl[d]).map { (it as Number).toInt() }
            assertEquals(d, a until b, r)
        }
        assertEquals(Vectors.list(cat["signals"]), Catalog.SIGNALS)
        assertEquals((cat["kmap_version"] as Number).toInt(), Catalog.KMAP_VERSION)
    }

    @Test
    fun constantsMatchPython() {
        val c = Vectors.map(cat["constants"])
        assertEquals((c["min_confidence"] as Number).toDouble(), KmapConstants.MIN_CONFIDENCE, 0.0)
        assertEquals((c["corr_window"] as Number).toInt(), KmapConstants.CORR_WINDOW)
        assertEquals((c["corr_min_frames"] as Number).toInt(), KmapConstants.CORR_MIN_FRAMES)
        assertEquals((c["max_coord"] as Number).toDouble(), KmapConstants.MAX_COORD, 0.0)
    }

    @Test
    fun cocoJointsAndMediaPipeMap() {
        assertEquals(Vectors.list(Vectors.index["coco_joints"]), Coco.JOINTS)
        val mp = Vectors.list(Vectors.index["mediapipe_to_coco"]).map { (it as Number).toInt() }.toIntArray()
        assertArrayEquals(mp, Coco.MEDIAPIPE_TO_COCO)
        // conversion: landmark m → joint j in pixels, visibility clipped, NaN → 0
        val x = FloatArray(33) { it / 40f }
        val y = FloatArray(33) { 1f - it / 40f }
        val vis = FloatArray(33) { if (it == 11) Float.NaN else if (it == 12) 1.5f else it / 33f }
        val f = Coco.fromMediaPipe(x, y, vis, null, 640, 480)
        for (j in 0 until 17) {
            val m = mp[j]
            assertEquals((x[m].toDouble() * 640).toFloat(), f[3 * j], 0f)
            assertEquals((y[m].toDouble() * 480).toFloat(), f[3 * j + 1], 0f)
        }
        assertEquals(0f, f[3 * 5 + 2], 0f) // landmark 11 (left shoulder) NaN visibility
        assertEquals(1f, f[3 * 6 + 2], 0f) // clipped
        val miss = Coco.missingFrame()
        assertEquals(true, miss[0].isNaN())
        assertEquals(0f, miss[2], 0f)
    }

    @Test
    fun featureIndexLookup() {
        for (f in Catalog.FEATURES) assertEquals(f.index, Catalog.index(f.name))
    }
}

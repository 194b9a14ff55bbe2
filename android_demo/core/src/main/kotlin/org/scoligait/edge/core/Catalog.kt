package org.scoligait.edge.core

import java.security.MessageDigest

/** COCO-17 joints and the MediaPipe Pose (33 landmarks) → COCO-17 map (DESIGN.md §3). */
object Coco {
    val JOINTS: List<String> = listOf(
        "nose", "left_eye", "right_eye", "left_ear", "right_ear",
        "left_shoulder", "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist",
        "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle",
    )
    const val N_JOINTS = 17

    /** MediaPipe landmark index of each COCO-17 joint (`scoligait_edge.pose.coco.MEDIAPIPE_TO_COCO`). */
    val MEDIAPIPE_TO_COCO: IntArray = intArrayOf(0, 2, 5, 7, 8, 11, 12, 13, 14, 15, 16, 23, 24, 25, 26, 27, 28)

    /**
     * MediaPipe's normalised landmarks → `[n × (x px, y px, confidence)]` row-major, as
     * `scoligait_edge.pose.video.landmarks_to_array` does it: x px = offset + x · width (double,
     * stored as float32), confidence = visibility (presence where visibility is unknown: absent
     * array or NaN entry), clipped to [0, 1].
     */
    fun landmarksToPixels(
        x: FloatArray, y: FloatArray, visibility: FloatArray?, presence: FloatArray?,
        width: Int, height: Int, offsetX: Int = 0, offsetY: Int = 0,
    ): FloatArray {
        val n = x.size
        require(y.size == n) { "x and y landmark counts differ" }
        val out = FloatArray(n * 3)
        for (m in 0 until n) {
            out[3 * m] = (offsetX + x[m].toDouble() * width).toFloat()
            out[3 * m + 1] = (offsetY + y[m].toDouble() * height).toFloat()
            // visibility when known (NaN = unknown), else presence, else 0
            val c = visibility?.get(m)?.takeUnless { it.isNaN() } ?: presence?.get(m)?.takeUnless { it.isNaN() } ?: 0f
            out[3 * m + 2] = c.coerceIn(0f, 1f)
        }
        return out
    }

    /** `[33 × 3]` MediaPipe pixels → one COCO-17 frame (51 floats), `pose.video.to_coco`. */
    fun toCoco(mp33: FloatArray): FloatArray {
        require(mp33.size >= 33 * 3) { "MediaPipe Pose gives 33 landmarks, got ${mp33.size / 3}" }
        val out = FloatArray(N_JOINTS * 3)
        for (j in 0 until N_JOINTS) System.arraycopy(mp33, 3 * MEDIAPIPE_TO_COCO[j], out, 3 * j, 3)
        return out
    }

    /** One COCO-17 frame straight from MediaPipe's normalised landmarks. */
    fun fromMediaPipe(
        x: FloatArray, y: FloatArray, visibility: FloatArray?, presence: FloatArray?,
        width: Int, height: Int, offsetX: Int = 0, offsetY: Int = 0,
    ): FloatArray {
        require(x.size >= 33 && y.size >= 33) { "MediaPipe Pose gives 33 landmarks, got ${x.size}" }
        return toCoco(landmarksToPixels(x, y, visibility, presence, width, height, offsetX, offsetY))
    }

    /** A frame where nobody is tracked: NaN coordinates, confidence 0 (what `PoseStream` yields). */
    fun missingFrame(): FloatArray = FloatArray(N_JOINTS * 3) { if (it % 3 == 2) 0f else Float.NaN }
}

/** One column of the knowledge map. */
data class Feature(val index: Int, val name: String, val label: String, val domain: String)

/**
 * The 238-feature catalog of the kinematic knowledge map — a line-by-line port of
 * `scoligait_edge/kmap/catalog.py` (same order, names, labels, domains) — and its hash.
 */
object Catalog {
    const val KMAP_VERSION = 1
    const val N_MOTION = 140
    const val N_SKELETON = 32
    const val N_CROSSCORR = 66
    const val N_FEATURES = N_MOTION + N_SKELETON + N_CROSSCORR
    private const val MINUS = "\u2212" // the label text uses U+2212 MINUS SIGN

    /** Domain name → [start, end) column range. */
    val DOMAINS: LinkedHashMap<String, IntRange> = linkedMapOf(
        "motion" to (0 until N_MOTION),
        "skeleton" to (N_MOTION until N_MOTION + N_SKELETON),
        "crosscorr" to (N_MOTION + N_SKELETON until N_FEATURES),
    )

    /** (part, left joint, right joint) — motion-space pair features. */
    val SYM_PAIRS: List<Triple<String, Int, Int>> = listOf(
        Triple("eye", 1, 2), Triple("ear", 3, 4), Triple("shoulder", 5, 6), Triple("elbow", 7, 8),
        Triple("wrist", 9, 10), Triple("hip", 11, 12), Triple("knee", 13, 14), Triple("ankle", 15, 16),
    )

    class Segment(val name: String, val label: String, val a: Int, val b: Int)
    class Angle(val name: String, val label: String, val a: Int, val vertex: Int, val c: Int)
    class Symmetry(val name: String, val label: String, val left: Int, val right: Int)
    class Tilt(val name: String, val label: String, val left: Int, val right: Int)

    val SEGMENTS: List<Segment> = listOf(
        Segment("left_upper_arm_length", "Left upper-arm length", 5, 7),
        Segment("right_upper_arm_length", "Right upper-arm length", 6, 8),
        Segment("left_forearm_length", "Left forearm length", 7, 9),
        Segment("right_forearm_length", "Right forearm length", 8, 10),
        Segment("left_thigh_length", "Left thigh length", 11, 13),
        Segment("right_thigh_length", "Right thigh length", 12, 14),
        Segment("left_shank_length", "Left shank length", 13, 15),
        Segment("right_shank_length", "Right shank length", 14, 16),
        Segment("shoulder_width", "Shoulder width", 5, 6),
        Segment("hip_width", "Hip width", 11, 12),
        Segment("left_trunk_side_length", "Left trunk-side length (shoulder to hip)", 5, 11),
        Segment("right_trunk_side_length", "Right trunk-side length (shoulder to hip)", 6, 12),
    )
    val ANGLES: List<Angle> = listOf(
        Angle("left_elbow_angle", "Left elbow angle", 5, 7, 9),
        Angle("right_elbow_angle", "Right elbow angle", 6, 8, 10),
        Angle("left_knee_angle", "Left knee angle", 11, 13, 15),
        Angle("right_knee_angle", "Right knee angle", 12, 14, 16),
        Angle("left_shoulder_angle", "Left shoulder angle (trunk side to upper arm)", 11, 5, 7),
        Angle("right_shoulder_angle", "Right shoulder angle (trunk side to upper arm)", 12, 6, 8),
        Angle("left_hip_angle", "Left hip angle (trunk side to thigh)", 5, 11, 13),
        Angle("right_hip_angle", "Right hip angle (trunk side to thigh)", 6, 12, 14),
    )
    val SYMMETRY: List<Symmetry> = listOf(
        Symmetry("upper_arm_length_symmetry", "Upper-arm length symmetry (L${MINUS}R)/(L+R)", 0, 1),
        Symmetry("forearm_length_symmetry", "Forearm length symmetry (L${MINUS}R)/(L+R)", 2, 3),
        Symmetry("thigh_length_symmetry", "Thigh length symmetry (L${MINUS}R)/(L+R)", 4, 5),
        Symmetry("shank_length_symmetry", "Shank length symmetry (L${MINUS}R)/(L+R)", 6, 7),
    )
    val TILTS: List<Tilt> = listOf(
        Tilt("shoulder_tilt", "Shoulder-line tilt", 5, 6),
        Tilt("pelvic_tilt", "Pelvic tilt", 11, 12),
        Tilt("knee_line_tilt", "Knee-line tilt", 13, 14),
        Tilt("ankle_line_tilt", "Ankle-line tilt", 15, 16),
        Tilt("ear_line_tilt", "Head (ear-line) tilt", 3, 4),
    )
    val SKELETON_EXTRA: List<Pair<String, String>> = listOf(
        "trunk_lean_angle" to "Trunk lateral lean angle (mid-hip to mid-shoulder vs vertical)",
        "shoulder_hip_width_ratio" to "Shoulder-to-hip width ratio",
        "torso_length_ratio" to "Torso length vs running body scale",
    )

    /** The 12 kinematic signals of the cross-correlation domain (name, label). */
    val SIGNAL_SPECS: List<Pair<String, String>> = listOf(
        "left_wrist_height" to "Left wrist height",
        "right_wrist_height" to "Right wrist height",
        "left_elbow_angle" to "Left elbow angle",
        "right_elbow_angle" to "Right elbow angle",
        "left_knee_height" to "Left knee height",
        "right_knee_height" to "Right knee height",
        "left_ankle_height" to "Left ankle height",
        "right_ankle_height" to "Right ankle height",
        "shoulder_tilt" to "Shoulder-line tilt",
        "pelvic_tilt" to "Pelvic tilt",
        "trunk_lateral_lean" to "Trunk lateral lean",
        "head_lateral_offset" to "Head lateral offset",
    )
    val SIGNALS: List<String> = SIGNAL_SPECS.map { it.first }

    /** (i, j) signal pairs, i < j, in `itertools.combinations(range(12), 2)` order. */
    val SIGNAL_PAIRS: List<Pair<Int, Int>> =
        (0 until 12).flatMap { i -> (i + 1 until 12).map { j -> i to j } }

    /** Python's `str.capitalize()` (first character upper case, the rest lower case). */
    private fun capitalize(s: String): String =
        if (s.isEmpty()) s else s.substring(0, 1).uppercase() + s.substring(1).lowercase()

    private fun pretty(joint: String): String = capitalize(joint.replace("_", " "))

    private fun motion(): List<Pair<String, String>> {
        val rows = ArrayList<Pair<String, String>>()
        for (j in Coco.JOINTS) {
            rows += "pos_${j}_x" to "${pretty(j)} lateral position"
            rows += "pos_${j}_y" to "${pretty(j)} vertical position"
        }
        for (j in Coco.JOINTS) {
            rows += "vel_${j}_x" to "${pretty(j)} lateral velocity"
            rows += "vel_${j}_y" to "${pretty(j)} vertical velocity"
        }
        for (j in Coco.JOINTS) {
            rows += "acc_${j}_x" to "${pretty(j)} lateral acceleration"
            rows += "acc_${j}_y" to "${pretty(j)} vertical acceleration"
        }
        for (j in Coco.JOINTS) rows += "speed_$j" to "${pretty(j)} speed"
        for ((part, _, _) in SYM_PAIRS) {
            rows += "${part}_pair_width" to "${capitalize(part)} pair lateral width"
            rows += "${part}_pair_height_diff" to "${capitalize(part)} height difference (left $MINUS right)"
        }
        rows += "root_vel_x" to "Body (mid-hip) lateral velocity"
        rows += "root_vel_y" to "Body (mid-hip) vertical velocity"
        rows += "mean_joint_speed" to "Mean joint speed"
        rows += "wrist_speed_asymmetry" to "Wrist speed asymmetry (left $MINUS right), arm-swing asymmetry"
        rows += "ankle_speed_asymmetry" to "Ankle speed asymmetry (left $MINUS right), step asymmetry"
        return rows
    }

    private fun skeleton(): List<Pair<String, String>> =
        SEGMENTS.map { it.name to it.label } + ANGLES.map { it.name to it.label } +
            SYMMETRY.map { it.name to it.label } + TILTS.map { it.name to it.label } + SKELETON_EXTRA

    private fun crosscorr(): List<Pair<String, String>> = SIGNAL_PAIRS.map { (i, j) ->
        "xcorr_${SIGNALS[i]}__${SIGNALS[j]}" to
            "${SIGNAL_SPECS[i].second} vs ${SIGNAL_SPECS[j].second.lowercase()} correlation"
    }

    val FEATURES: List<Feature> = run {
        val out = ArrayList<Feature>(N_FEATURES)
        for ((domain, rows) in listOf("motion" to motion(), "skeleton" to skeleton(), "crosscorr" to crosscorr())) {
            for ((name, label) in rows) out += Feature(out.size, name, label, domain)
        }
        check(out.size == N_FEATURES) { "catalog layout is inconsistent: ${out.size} features" }
        for ((dom, range) in DOMAINS) check(range.all { out[it].domain == dom }) { dom }
        out
    }
    val NAMES: List<String> = FEATURES.map { it.name }
    private val INDEX: Map<String, Int> = NAMES.withIndex().associate { (i, n) -> n to i }

    init {
        check(INDEX.size == N_FEATURES) { "duplicate feature names" }
    }

    /** Column of a feature by machine name. */
    fun index(name: String): Int = INDEX[name] ?: throw NoSuchElementException("unknown feature '$name'")

    /** Domain of a column. */
    fun domainOf(index: Int): String = FEATURES[index].domain

    /**
     * Canonical JSON of the catalog, byte for byte what Python's
     * `json.dumps(payload, ensure_ascii=True, separators=(",", ":"), sort_keys=True)` writes.
     */
    fun catalogJson(): String {
        val sb = StringBuilder(24_000)
        sb.append("{\"features\":[")
        for ((k, f) in FEATURES.withIndex()) {
            if (k > 0) sb.append(',')
            sb.append('[').append(f.index).append(',')
            Json.quoteAscii(f.name, sb); sb.append(',')
            Json.quoteAscii(f.label, sb); sb.append(',')
            Json.quoteAscii(f.domain, sb); sb.append(']')
        }
        sb.append("],\"kmap_version\":").append(KMAP_VERSION).append('}')
        return sb.toString()
    }

    /** Hex sha256 of [catalogJson] — equals Python's `scoligait_edge.kmap.catalog_hash()`. */
    val HASH: String by lazy { sha256Hex(catalogJson().toByteArray(Charsets.US_ASCII)) }

    fun catalogHash(): String = HASH
}

internal fun sha256Hex(bytes: ByteArray): String =
    MessageDigest.getInstance("SHA-256").digest(bytes).joinToString("") { "%02x".format(it) }

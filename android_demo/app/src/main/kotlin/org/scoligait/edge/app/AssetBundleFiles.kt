package org.scoligait.edge.app

import android.content.res.AssetManager
import org.scoligait.edge.core.BundleFiles
import java.io.FileNotFoundException
import java.io.InputStream

/** A bundle packaged in the APK's assets under `dir` (uncompressed: see `noCompress` in build.gradle.kts). */
class AssetBundleFiles(private val assets: AssetManager, private val dir: String = "bundle") : BundleFiles {
    override val name: String get() = dir

    private fun path(p: String) = "$dir/$p"

    override fun exists(path: String): Boolean = try {
        assets.open(path(path)).close(); true
    } catch (e: FileNotFoundException) {
        false
    }

    override fun size(path: String): Long = try {
        assets.openFd(path(path)).use { it.length }
    } catch (e: FileNotFoundException) {
        // compressed asset: no file descriptor, count the bytes
        assets.open(path(path)).use { s ->
            var n = 0L
            val buf = ByteArray(1 shl 16)
            while (true) { val k = s.read(buf); if (k < 0) break; n += k }
            n
        }
    }

    override fun open(path: String): InputStream = assets.open(path(path), AssetManager.ACCESS_STREAMING)
}

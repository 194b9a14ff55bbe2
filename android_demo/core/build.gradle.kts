// The pure-Kotlin JVM core (no Android imports): the app depends on it, and its tests run on any JVM.
// On the project's CI machines it is compiled with kotlinc directly (mk/android.mk), not with Gradle.
plugins {
    `java-library`
    alias(libs.plugins.kotlin.jvm)
}

kotlin {
    jvmToolchain(17)
    sourceSets {
        test {
            // the JNA binding of the ONNX Runtime C API (JVM tests only)
            kotlin.srcDir("src/testOrt/kotlin")
        }
    }
}

dependencies {
    testImplementation(libs.junit)
    testImplementation(libs.jna)
}

tasks.test {
    // Golden vectors: `make android-vectors` in the repository root writes them to core/build/vectors.
    systemProperty("scoligait.vectors", layout.buildDirectory.dir("vectors").get().asFile.absolutePath)
    // ONNX Runtime C library for the JVM inference test, e.g. .venv/lib/python3.11/site-packages/onnxruntime/capi/libonnxruntime.so.1.31.1
    providers.gradleProperty("scoligait.ortlib").orNull?.let { systemProperty("scoligait.ortlib", it) }
    systemProperty("jna.nosys", "true")
}

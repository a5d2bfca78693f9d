{
  "targets": [
    {
      "target_name": "tsgund_reaper",
      "sources": ["reaper.c"],
      "defines": ["NAPI_VERSION=8"],
      "cflags": ["-Wall", "-Wextra", "-O2"]
    }
  ]
}

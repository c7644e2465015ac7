#!/usr/bin/env node
/** `npm start`: the whole product in one process, until SIGINT/SIGTERM (exit 0 after a clean shutdown). */
import { launch } from "@hlconnect/service"
import { LauncherLive } from "./Launcher.js"

launch(LauncherLive, { name: "launcher" })

// The supervisor wallboard (being written).
import { start } from "/web/app.js";
await start("Wallboard", ["supervisor", "admin"]);

/**
 * Runs the three vendor emulators for driving the app by hand (`npm run emulators`), and prints the
 * environment that points the app at them. Stops on Ctrl-C.
 */
import { startVendorEmulators } from "@/tests/support/emulators";

const taskDurationMs = Number(process.env.EMULATOR_TASK_MS ?? 3000);
// Fixed ports, so the printed environment stays valid across restarts.
const vendors = await startVendorEmulators(taskDurationMs, { openai: 4010, kling: 4011, replicate: 4012 });

console.log(`Vendor emulators running (each task takes ${taskDurationMs} ms; EMULATOR_TASK_MS changes it).`);
console.log("Start the app against them with this environment (e.g. in .env.local):\n");
for (const [name, value] of Object.entries(vendors.env)) console.log(`${name}=${value}`);
console.log("\nCtrl-C stops them.");

process.on("SIGINT", async () => {
  await vendors.close();
  process.exit(0);
});

// Validate .glb files with the Khronos glTF-Validator; prints one JSON report summary per file.
// usage: node validate_gltf.cjs MODULE_DIR FILE...
const fs = require("fs");
const validator = require(require("path").resolve(process.argv[2], "gltf-validator"));

async function main() {
  const out = [];
  for (const file of process.argv.slice(3)) {
    const report = await validator.validateBytes(new Uint8Array(fs.readFileSync(file)), {
      uri: file,
      maxIssues: 50,
    });
    out.push({
      file,
      errors: report.issues.numErrors,
      warnings: report.issues.numWarnings,
      messages: report.issues.messages.map((m) => `${m.severity} ${m.code} ${m.pointer || ""} ${m.message}`),
    });
  }
  console.log(JSON.stringify(out));
}
main().catch((e) => { console.error(String(e)); process.exit(2); });

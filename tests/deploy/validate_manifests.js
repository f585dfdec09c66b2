// Validates every YAML document under deploy/kubernetes/ offline against the
// Kubernetes API schema (kubernetes-models, @kubernetes-models/cert-manager
// for cert-manager's kinds and @kubernetes-models/prometheus-operator for the
// PodMonitor example), more strictly than `kubectl apply` would:
//
//  - an unknown apiVersion/kind fails;
//  - a field the schema does not define fails (kubernetes-models' validators
//    accept unknown fields, so every object is wrapped in a Proxy that
//    records which fields the validator looked at; a field it never read is
//    not in the schema);
//  - duplicate keys and YAML warnings fail;
//  - each kustomization.yaml names only files that exist, and every manifest
//    outside examples/ is in a kustomization;
//  - the objects agree with each other: the Service and NetworkPolicy select
//    the DaemonSet's pods, named ports exist, the ServiceAccount and the TLS
//    Secret the DaemonSet uses are defined (the Secret by cert-manager);
//  - with --tallyd=PATH, every --flag in the DaemonSet's args is one that
//    tallyd accepts (from `tallyd --helpfull`).
//
// Usage: node validate_manifests.js DEPLOY_KUBERNETES_DIR [--tallyd=PATH]
'use strict';

const fs = require('fs');
const path = require('path');
const childProcess = require('child_process');
const YAML = require('yaml');

const errors = [];
function fail(where, message) {
  errors.push(`${where}: ${message}`);
}

// apiVersion -> [package, directory in it].
function modelModule(apiVersion, kind) {
  const [group, version] = apiVersion.includes('/')
    ? apiVersion.split('/')
    : ['', apiVersion];
  if (!/^[A-Za-z0-9]+$/.test(kind) || !/^[a-z0-9]+$/.test(version)) {
    return null;
  }
  if (group === 'cert-manager.io' || group.endsWith('.cert-manager.io')) {
    return `@kubernetes-models/cert-manager/${group}/${version}/${kind}`;
  }
  if (group === 'monitoring.coreos.com') {
    return `@kubernetes-models/prometheus-operator/${group}/${version}/${kind}`;
  }
  return group === ''
    ? `kubernetes-models/${version}/${kind}`
    : `kubernetes-models/${group}/${version}/${kind}`;
}

function loadModel(apiVersion, kind) {
  const name = modelModule(apiVersion, kind);
  if (name === null) return null;
  let mod;
  try {
    mod = require(name);
  } catch (e) {
    if (e.code === 'MODULE_NOT_FOUND') return null;
    throw e;
  }
  const cls = mod[kind];
  // The file system may be case-insensitive; the class knows its real name.
  if (!cls || cls.kind !== kind || cls.apiVersion !== apiVersion) return null;
  return cls;
}

// Wraps `value` so that reads of object fields are recorded in `seen`
// (object -> Set of keys).
function track(value, seen, cache) {
  if (value === null || typeof value !== 'object') return value;
  if (cache.has(value)) return cache.get(value);
  if (!seen.has(value)) seen.set(value, new Set());
  const proxy = new Proxy(value, {
    get(target, key, receiver) {
      if (typeof key === 'string') seen.get(target).add(key);
      return track(Reflect.get(target, key, receiver), seen, cache);
    },
    has(target, key) {
      if (typeof key === 'string') seen.get(target).add(key);
      return Reflect.has(target, key);
    },
  });
  cache.set(value, proxy);
  return proxy;
}

function unknownFields(value, seen, where, out) {
  if (value === null || typeof value !== 'object') return;
  if (Array.isArray(value)) {
    value.forEach((v, i) => unknownFields(v, seen, `${where}[${i}]`, out));
    return;
  }
  const read = seen.get(value) || new Set();
  for (const key of Object.keys(value)) {
    const at = where ? `${where}.${key}` : key;
    if (!read.has(key)) {
      out.push(at);
      continue;
    }
    unknownFields(value[key], seen, at, out);
  }
}

function validateObject(doc, where) {
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) {
    fail(where, 'not a Kubernetes object');
    return false;
  }
  const { apiVersion, kind } = doc;
  if (typeof apiVersion !== 'string' || typeof kind !== 'string') {
    fail(where, 'apiVersion and kind are required');
    return false;
  }
  const cls = loadModel(apiVersion, kind);
  if (cls === null) {
    fail(where, `unknown kind ${apiVersion} ${kind}`);
    return false;
  }
  const seen = new Map();
  try {
    cls.prototype.validate.call(track(doc, seen, new Map()));
  } catch (e) {
    fail(where, `${kind} ${doc.metadata && doc.metadata.name}: ${e.message}`);
    return false;
  }
  const unknown = [];
  unknownFields(doc, seen, '', unknown);
  for (const field of unknown) {
    fail(where, `${kind} ${doc.metadata && doc.metadata.name}: unknown field ${field}`);
  }
  if (!doc.metadata || !doc.metadata.name) {
    fail(where, `${kind} has no metadata.name`);
  }
  return unknown.length === 0;
}

const KUSTOMIZATION_FIELDS = new Set([
  'apiVersion', 'kind', 'namespace', 'resources', 'images', 'labels',
  'commonAnnotations', 'patches', 'components', 'configMapGenerator',
  'secretGenerator', 'generatorOptions', 'namePrefix', 'nameSuffix',
]);

function checkKustomization(file, doc, listed) {
  if (doc.apiVersion !== 'kustomize.config.k8s.io/v1beta1' || doc.kind !== 'Kustomization') {
    fail(file, 'expected apiVersion kustomize.config.k8s.io/v1beta1, kind Kustomization');
  }
  for (const key of Object.keys(doc)) {
    if (!KUSTOMIZATION_FIELDS.has(key)) fail(file, `unknown kustomization field ${key}`);
  }
  if (!Array.isArray(doc.resources) || doc.resources.length === 0) {
    fail(file, 'resources must be a non-empty list');
    return;
  }
  for (const res of doc.resources) {
    const target = path.resolve(path.dirname(file), res);
    if (!fs.existsSync(target)) {
      fail(file, `resource ${res} does not exist`);
    } else if (fs.statSync(target).isDirectory()) {
      if (!fs.existsSync(path.join(target, 'kustomization.yaml'))) {
        fail(file, `resource ${res} is a directory without kustomization.yaml`);
      }
    } else {
      listed.add(target);
    }
  }
}

function yamlFiles(dir) {
  const out = [];
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...yamlFiles(p));
    else if (/\.ya?ml$/.test(entry.name)) out.push(p);
  }
  return out.sort();
}

function labelsMatch(selector, labels) {
  return Object.entries(selector || {}).every(([k, v]) => labels && labels[k] === v);
}

// Checks between objects: the things a typo would silently break.
function checkReferences(objects) {
  const byKind = (kind) => objects.filter((o) => o.doc.kind === kind);
  // The agents' DaemonSet; examples/ may hold others (uninstalling).
  const daemonsets = byKind('DaemonSet').filter(
    (o) => !o.file.startsWith(`examples${path.sep}`));
  if (daemonsets.length !== 1) {
    fail('deploy/kubernetes', `expected one DaemonSet, found ${daemonsets.length}`);
    return;
  }
  const ds = daemonsets[0].doc;
  const pod = ds.spec.template;
  const podLabels = pod.metadata.labels;
  if (!labelsMatch(ds.spec.selector.matchLabels, podLabels)) {
    fail('daemonset.yaml', 'selector does not match the pod template labels');
  }
  const container = pod.spec.containers.find((c) => c.name === 'tallyd');
  if (!container) {
    fail('daemonset.yaml', 'no container named tallyd');
    return;
  }
  const portNames = new Set((container.ports || []).map((p) => p.name));
  const portNumbers = new Set((container.ports || []).map((p) => p.containerPort));

  const sc = container.securityContext || {};
  if (sc.privileged) fail('daemonset.yaml', 'tallyd must not be privileged');
  if (sc.allowPrivilegeEscalation !== false) {
    fail('daemonset.yaml', 'allowPrivilegeEscalation must be false');
  }
  if (JSON.stringify((sc.capabilities || {}).drop) !== '["ALL"]') {
    fail('daemonset.yaml', 'capabilities.drop must be [ALL]');
  }
  if (pod.spec.hostNetwork || pod.spec.hostPID || pod.spec.hostIPC) {
    fail('daemonset.yaml', 'no host namespaces');
  }
  for (const v of pod.spec.volumes || []) {
    if (!v.hostPath) continue;
    const mount = (container.volumeMounts || []).find((m) => m.name === v.name);
    if (!mount) fail('daemonset.yaml', `hostPath volume ${v.name} is not mounted`);
    else if (v.hostPath.path === '/sys/fs/bpf') {
      // The one writable host path: probes are pinned there.
      if (mount.mountPath !== '/sys/fs/bpf') {
        fail('daemonset.yaml', 'the host bpffs must be mounted at /sys/fs/bpf');
      }
    } else if (mount.readOnly !== true) {
      fail('daemonset.yaml', `hostPath volume ${v.name} must be mounted readOnly`);
    }
  }
  for (const probe of ['livenessProbe', 'readinessProbe']) {
    const p = container[probe];
    if (!p) {
      fail('daemonset.yaml', `tallyd has no ${probe}`);
      continue;
    }
    const port = (p.grpc || p.tcpSocket || p.httpGet || {}).port;
    if (!(portNames.has(port) || portNumbers.has(port))) {
      fail('daemonset.yaml', `${probe} port ${port} is not a container port`);
    }
  }
  if (!container.resources || !container.resources.requests || !container.resources.limits ||
      !container.resources.limits.memory) {
    fail('daemonset.yaml', 'tallyd needs resource requests and a memory limit');
  }
  const nodeName = (container.env || []).find((e) => e.name === 'NODE_NAME');
  if (!nodeName || !nodeName.valueFrom || !nodeName.valueFrom.fieldRef ||
      nodeName.valueFrom.fieldRef.fieldPath !== 'spec.nodeName') {
    fail('daemonset.yaml', 'NODE_NAME must come from spec.nodeName (downward API)');
  }
  if (!(pod.spec.tolerations || []).some((t) => t.operator === 'Exists' && !t.key && !t.effect)) {
    fail('daemonset.yaml', 'tallyd must tolerate every taint (operator: Exists)');
  }

  for (const { file, doc } of byKind('Service')) {
    if (doc.spec.clusterIP !== 'None') fail(file, `Service ${doc.metadata.name} must be headless`);
    if (!labelsMatch(doc.spec.selector, podLabels)) {
      fail(file, `Service ${doc.metadata.name} does not select the agent pods`);
    }
    for (const p of doc.spec.ports) {
      if (!(portNames.has(p.targetPort) || portNumbers.has(p.targetPort))) {
        fail(file, `Service port ${p.name} targets ${p.targetPort}, not a tallyd port`);
      }
    }
  }
  const policies = byKind('NetworkPolicy');
  if (policies.length === 0) fail('deploy/kubernetes', 'no NetworkPolicy');
  for (const { file, doc } of policies) {
    if (!labelsMatch(doc.spec.podSelector.matchLabels, podLabels)) {
      fail(file, `NetworkPolicy ${doc.metadata.name} does not select the agent pods`);
    }
    for (const rule of doc.spec.ingress || []) {
      if (!rule.from || rule.from.length === 0) {
        fail(file, 'an ingress rule without "from" admits everyone');
      }
      for (const p of rule.ports || []) {
        if (!(portNames.has(p.port) || portNumbers.has(p.port))) {
          fail(file, `NetworkPolicy port ${p.port} is not a tallyd port`);
        }
      }
    }
  }
  const sa = pod.spec.serviceAccountName;
  if (!byKind('ServiceAccount').some((o) => o.doc.metadata.name === sa)) {
    fail('daemonset.yaml', `serviceAccountName ${sa} is not defined`);
  }
  if (byKind('Role').length + byKind('ClusterRole').length + byKind('RoleBinding').length +
      byKind('ClusterRoleBinding').length > 0) {
    fail('deploy/kubernetes', 'tallyd needs no API permissions: no RBAC objects');
  }
  const secrets = (pod.spec.volumes || []).filter((v) => v.secret).map((v) => v.secret.secretName);
  const certSecrets = new Set(byKind('Certificate').map((o) => o.doc.spec.secretName));
  for (const s of secrets) {
    if (!certSecrets.has(s)) {
      fail('daemonset.yaml', `Secret ${s} is not made by any cert-manager Certificate example`);
    }
  }
  checkMetrics(byKind, container, pod, policies);
  // Every Job/Pod example that runs tallyctl must be admitted by a policy.
  for (const { file, doc } of byKind('Job')) {
    const labels = doc.spec.template.metadata.labels;
    const admitted = policies.some(({ doc: np }) => (np.spec.ingress || []).some((rule) =>
      (rule.from || []).some((peer) => peer.podSelector && !peer.namespaceSelector &&
        labelsMatch(peer.podSelector.matchLabels, labels))));
    if (!admitted) fail(file, `Job ${doc.metadata.name} is not admitted by the NetworkPolicy`);
  }
  return { container, pod };
}

// The metrics port: where tallyd listens, what the annotations and the
// PodMonitor scrape, and that the NetworkPolicy lets a scraper in.
function checkMetrics(byKind, container, pod, policies) {
  const listen = (container.args || []).find((a) => a.startsWith('--metrics_listen='));
  if (!listen) {
    fail('daemonset.yaml', 'tallyd has no --metrics_listen');
    return;
  }
  const port = Number(listen.slice(listen.lastIndexOf(':') + 1));
  const named = (container.ports || []).find((p) => p.containerPort === port);
  if (!named || named.name !== 'metrics') {
    fail('daemonset.yaml', `--metrics_listen port ${port} is not the container port named metrics`);
    return;
  }
  const annotations = pod.metadata.annotations || {};
  if (annotations['prometheus.io/scrape'] !== 'true' ||
      Number(annotations['prometheus.io/port']) !== port ||
      annotations['prometheus.io/path'] !== '/metrics') {
    fail('daemonset.yaml', `prometheus.io annotations must scrape port ${port} at /metrics`);
  }
  for (const { file, doc } of byKind('PodMonitor')) {
    if (!labelsMatch(doc.spec.selector.matchLabels, pod.metadata.labels)) {
      fail(file, `PodMonitor ${doc.metadata.name} does not select the agent pods`);
    }
    for (const e of doc.spec.podMetricsEndpoints || []) {
      if (e.port !== 'metrics' || (e.path || '/metrics') !== '/metrics') {
        fail(file, `PodMonitor endpoint ${e.port}${e.path || ''} is not the metrics port at /metrics`);
      }
    }
  }
  const admitted = policies.some(({ doc }) => (doc.spec.ingress || []).some((rule) =>
    (rule.ports || []).some((p) => p.port === 'metrics' || p.port === port)));
  if (!admitted) fail('networkpolicy.yaml', 'no ingress rule admits the metrics port');
}

// Every probes.yaml in a ConfigMap the DaemonSet mounts must be what
// --probes_file points at, and must pass tallyd --check_probes_file.
function checkProbesFiles(objects, container, pod, tallyd) {
  const probesArg = (container.args || []).find((a) => a.startsWith('--probes_file='));
  if (!probesArg) {
    fail('daemonset.yaml', 'tallyd has no --probes_file (the tally-probes ConfigMap)');
    return;
  }
  const probesPath = probesArg.slice('--probes_file='.length);
  const volume = (pod.spec.volumes || []).find((v) => v.configMap);
  const mount = volume && (container.volumeMounts || []).find((m) => m.name === volume.name);
  if (!mount || path.posix.dirname(probesPath) !== mount.mountPath) {
    fail('daemonset.yaml', `--probes_file=${probesPath} is not in a mounted ConfigMap`);
    return;
  }
  const cm = objects.find((o) => o.doc.kind === 'ConfigMap' &&
    o.doc.metadata.name === volume.configMap.name);
  const text = cm && cm.doc.data && cm.doc.data[path.posix.basename(probesPath)];
  if (text === undefined) {
    fail('daemonset.yaml', `ConfigMap ${volume.configMap.name} has no ${path.posix.basename(probesPath)}`);
    return;
  }
  if (!tallyd) return;
  const tmp = fs.mkdtempSync(path.join(require('os').tmpdir(), 'tally-probes-'));
  const file = path.join(tmp, 'probes.yaml');
  fs.writeFileSync(file, text);
  const check = childProcess.spawnSync(tallyd, [`--check_probes_file=${file}`], { encoding: 'utf8' });
  fs.rmSync(tmp, { recursive: true, force: true });
  if (check.status !== 0) {
    fail(cm.file, `probes.yaml does not validate: ${check.stderr.trim()}`);
  }
}

function checkFlags(container, tallyd) {
  const help = childProcess.spawnSync(tallyd, ['--helpfull'], { encoding: 'utf8' });
  const text = `${help.stdout}${help.stderr}`;
  const known = new Set([...text.matchAll(/^\s+--([a-z0-9_]+) /gm)].map((m) => m[1]));
  if (!known.has('listen')) {
    fail(tallyd, `--helpfull lists no --listen flag; output was: ${text.slice(0, 500)}`);
    return;
  }
  for (const arg of [...(container.command || []).slice(1), ...(container.args || [])]) {
    const m = /^--([a-z0-9_]+)(=|$)/.exec(arg);
    if (!m) {
      fail('daemonset.yaml', `tallyd argument ${arg} is not --flag=value`);
    } else if (!known.has(m[1])) {
      fail('daemonset.yaml', `tallyd has no flag --${m[1]} (see tallyd --helpfull)`);
    }
  }
}

function main() {
  const args = process.argv.slice(2);
  const dir = args.find((a) => !a.startsWith('--'));
  const tallydArg = args.find((a) => a.startsWith('--tallyd='));
  if (!dir) {
    console.error('usage: validate_manifests.js DEPLOY_KUBERNETES_DIR [--tallyd=PATH]');
    process.exit(2);
  }
  const root = path.resolve(dir);
  const listed = new Set();
  const objects = [];
  let checked = 0;
  const files = yamlFiles(root);
  for (const file of files) {
    const rel = path.relative(root, file);
    const docs = YAML.parseAllDocuments(fs.readFileSync(file, 'utf8'), {
      uniqueKeys: true,
      prettyErrors: true,
      strict: true,
    });
    for (const [i, d] of docs.entries()) {
      const where = docs.length > 1 ? `${rel} (document ${i + 1})` : rel;
      for (const e of [...d.errors, ...d.warnings]) fail(where, e.message);
      if (d.errors.length) continue;
      const doc = d.toJS();
      if (doc === null) continue;
      if (path.basename(file) === 'kustomization.yaml') {
        checkKustomization(file, doc, listed);
        continue;
      }
      if (validateObject(doc, where)) checked++;
      objects.push({ file: rel, doc });
    }
  }
  for (const file of files) {
    const rel = path.relative(root, file);
    if (path.basename(file) === 'kustomization.yaml' || rel.startsWith(`examples${path.sep}`)) {
      continue;
    }
    if (!listed.has(file)) fail(rel, 'is in no kustomization.yaml');
  }
  const refs = errors.length === 0 ? checkReferences(objects) : null;
  const tallyd = tallydArg ? tallydArg.slice('--tallyd='.length) : null;
  if (refs && tallyd) checkFlags(refs.container, tallyd);
  if (refs) checkProbesFiles(objects, refs.container, refs.pod, tallyd);

  if (errors.length) {
    for (const e of errors) console.error(`FAIL ${e}`);
    console.error(`${errors.length} problem(s) in ${root}`);
    process.exit(1);
  }
  console.log(`ok: ${checked} objects in ${files.length} files valid against the Kubernetes API schema`);
}

main();

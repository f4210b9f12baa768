// The downlink plan: the latest pass plan the satellite reported (GET /v1/plans?limit=1),
// polled. The ground cannot ask the satellite; the satellite sends its plan once per pass.
"use strict";

function planRow(scene) {
  const cells = [
    EODL.el("td", { text: scene.scene_id.slice(0, 12), title: scene.scene_id }),
    EODL.el("td", { text: scene.task }),
    EODL.el("td", { text: scene.alert ? "alert" : String(scene.priority) }),
    EODL.el("td", { text: scene.codec + (scene.reencoded ? " (re-encoded)" : "") }),
    EODL.el("td", { class: "num", text: EODL.number(scene.bpp, 3) }),
    EODL.el("td", { class: "num", text: String(scene.container_bytes) }),
    EODL.el("td", { class: "num", text: String(scene.link_bytes) }),
    EODL.el("td", { class: "num", text: EODL.number(scene.f1_expected, 3) }),
  ];
  return EODL.el("tr", { "data-scene-id": scene.scene_id }, ...cells);
}

function showPlan(plan) {
  const used = plan.budget_used === null ? "-" : `${EODL.number(100 * plan.budget_used, 1)} %`;
  const summary = `Pass ${plan.pass_key}: budget ${plan.budget_bytes} bytes, ` +
    `${plan.released_bytes + plan.carried_bytes} planned (${used} of the budget), ` +
    `${plan.scene_count} scenes, ${plan.deferred.length} deferred, ` +
    `expected F1+ sum ${EODL.number(plan.f1_expected_sum, 3)}; from ${plan.satellite}, ` +
    `received ${EODL.age(plan.received_at, Date.now())} ago.`;
  document.getElementById("plan-summary").textContent = summary;
  document.querySelector("#plan tbody").replaceChildren(...plan.scenes.map(planRow));
}

async function refreshPlan() {
  try {
    const plans = await EODL.getJson("/v1/plans?limit=1");
    if (plans.length) showPlan(plans[0]);
    else document.getElementById("plan-summary").textContent =
      "No plan received yet: the satellite reports its plan once per pass.";
  } catch (error) {
    document.getElementById("plan-summary").textContent = `Plan unavailable: ${error.message}`;
  }
}

refreshPlan();
setInterval(refreshPlan, EODL.pollMs());

"""All tables. Import from here: `from models.schema import Customer`."""
from .calls import Call, CallLeg, CallRequest  # noqa: F401  (the call log, issue 13)
from .call_commands import CallCommand  # noqa: F401  (the call bar's controls, issue 14)
from .campaigns import (  # noqa: F401  (outbound campaigns, T4)
                        AgentQueue,
                        AgentState,
                        AgentStateLog,
                        Campaign,
                        CampaignAgent,
                        CampaignLead,
                        DialAttempt,
                        DoNotCall,
                        PauseCode,
)
from .config import AppSetting, ImportTemplate, QueryableField, StageRule
from .customers import (
                        OWNERSHIP_MODES,
                        STAGES,
                        Contact,
                        ContactRecord,
                        Customer,
                        CustomerOperator,
                        StageHistory,
)
from .dispositions import Disposition  # noqa: F401  (wrap-up outcomes, issue 13)
from .early_media import EarlyMediaReference  # noqa: F401  (carriers' announcements, issue 17)
from .fax import Fax, FaxDocument  # noqa: F401  (faxes, T8)
from .ivr import IVRCall  # noqa: F401  (ivr_calls table, T2)
from .library import CallScript, Competitor, Document, ResourceSite
from .logs import ClaimLog, Event, ImportJob, ImportReportLine, OperatorHistory
from .recordings import Recording  # noqa: F401  (recordings table, T5)
from .reports import ReportTemplate  # noqa: F401  (saved call reports, issue 13)
from .sales import Opportunity, OpportunityItem, Order, OrderFollowUp, OrderItem, Product
from .sms import SmsBulkJob, SmsMessage, SmsOptOut, SmsPart, SmsTemplate  # noqa: F401  (SMS, issue 15)
from .supervision import SpySession  # noqa: F401  (listen/whisper/barge, issue 14)
from .users import Role, User
from .voice import VoiceAnswer, VoiceResult  # noqa: F401  (voice campaigns, T9)
from .wallboard import WallboardAlert, WallboardAlertFiring  # noqa: F401  (issue 14)

__all__ = [
    "Role", "User", "Customer", "CustomerOperator", "Contact", "ContactRecord", "STAGES",
    "OWNERSHIP_MODES", "Product", "Opportunity", "OpportunityItem", "Order", "OrderItem",
    "OrderFollowUp", "Document", "Competitor", "ResourceSite", "CallScript", "StageRule",
    "QueryableField", "ImportTemplate", "AppSetting", "OperatorHistory", "ClaimLog", "Event",
    "ImportJob", "ImportReportLine", "StageHistory",
]
from .quality import (  # noqa: F401  (recording quality review, issue 16)
                      RecordingAnalysis,
                      RecordingComment,
                      Review,
                      ReviewAnswer,
                      ReviewForm,
                      ReviewItem,
                      ReviewQueueEntry,
                      ReviewSection,
                      TrainingExample,
)
